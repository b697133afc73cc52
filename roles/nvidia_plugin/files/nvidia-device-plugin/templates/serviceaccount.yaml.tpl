{{- if .Values.devicePlugin.enabled }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "ndp.fullname" . }}-service-account
  namespace: {{ include "ndp.namespace" . }}
  labels:
    {{- include "ndp.labels" . | nindent 4 }}
{{- end }}
