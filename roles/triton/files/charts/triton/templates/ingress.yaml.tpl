{{- if .Values.ingress.enabled }}
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: {{ include "triton.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "triton.labels" . | nindent 4 }}
  annotations:
    alb.ingress.kubernetes.io/scheme: {{ .Values.ingress.scheme }}
    alb.ingress.kubernetes.io/target-type: ip
    alb.ingress.kubernetes.io/listen-ports: '[{"HTTP": 80}, {"HTTPS": 443}]'
    alb.ingress.kubernetes.io/ssl-redirect: "443"
    alb.ingress.kubernetes.io/certificate-arn: {{ required "ingress.certificateArn (an ACM certificate ARN) is required with ingress.enabled" .Values.ingress.certificateArn | quote }}
    alb.ingress.kubernetes.io/ssl-policy: {{ .Values.ingress.sslPolicy }}
    alb.ingress.kubernetes.io/backend-protocol: HTTP
    alb.ingress.kubernetes.io/healthcheck-path: /v2/health/ready
    alb.ingress.kubernetes.io/healthcheck-port: traffic-port
    alb.ingress.kubernetes.io/success-codes: "200"
    {{- with .Values.ingress.inboundCidrs }}
    alb.ingress.kubernetes.io/inbound-cidrs: {{ . | quote }}
    {{- end }}
    {{- with .Values.ingress.tags }}
    alb.ingress.kubernetes.io/tags: {{ . | quote }}
    {{- end }}
spec:
  ingressClassName: {{ .Values.ingress.className }}
  rules:
    - {{- with .Values.ingress.host }}
      host: {{ . | quote }}
      {{- end }}
      http:
        paths:
          - path: /
            pathType: Prefix
            backend:
              service:
                name: {{ include "triton.fullname" . }}
                port:
                  name: http
{{- end }}
