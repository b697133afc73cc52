{{- if .Values.serviceAccount.create }}
apiVersion: v1
kind: ServiceAccount
metadata:
  name: {{ include "triton.serviceAccountName" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "triton.labels" . | nindent 4 }}
  annotations:
    # IRSA: pods of this ServiceAccount get the role's temporary credentials (S3 read-only).
    eks.amazonaws.com/role-arn: {{ required "serviceAccount.roleArn (the IRSA role) is required" .Values.serviceAccount.roleArn | quote }}
automountServiceAccountToken: true
{{- end }}
