{{- if .Values.devicePlugin.enabled }}
apiVersion: apps/v1
kind: DaemonSet
metadata:
  name: {{ include "ndp.fullname" . }}
  namespace: {{ include "ndp.namespace" . }}
  labels:
    {{- include "ndp.labels" . | nindent 4 }}
spec:
  selector:
    matchLabels:
      {{- include "ndp.selectorLabels" . | nindent 6 }}
  {{- with .Values.updateStrategy }}
  updateStrategy:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  template:
    metadata:
      labels:
        {{- include "ndp.selectorLabels" . | nindent 8 }}
      {{- with .Values.podAnnotations }}
      annotations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
    spec:
      {{- with .Values.priorityClassName }}
      priorityClassName: {{ . }}
      {{- end }}
      {{- with .Values.runtimeClassName }}
      runtimeClassName: {{ . }}
      {{- end }}
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      serviceAccountName: {{ include "ndp.fullname" . }}-service-account
      securityContext:
        {{- toYaml .Values.podSecurityContext | nindent 8 }}
      containers:
        - name: nvidia-device-plugin-ctr
          image: {{ include "ndp.image" . }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          command: ["nvidia-device-plugin"]
          env:
            - name: MPS_ROOT
              value: {{ .Values.mps.root | quote }}
            {{- if typeIs "string" .Values.migStrategy }}
            - name: MIG_STRATEGY
              value: {{ .Values.migStrategy | quote }}
            {{- end }}
            {{- if typeIs "bool" .Values.failOnInitError }}
            - name: FAIL_ON_INIT_ERROR
              value: {{ .Values.failOnInitError | quote }}
            {{- end }}
            {{- if typeIs "bool" .Values.compatWithCPUManager }}
            - name: PASS_DEVICE_SPECS
              value: {{ .Values.compatWithCPUManager | quote }}
            {{- end }}
            {{- if typeIs "string" .Values.deviceListStrategy }}
            - name: DEVICE_LIST_STRATEGY
              value: {{ .Values.deviceListStrategy | quote }}
            {{- end }}
            - name: NVIDIA_VISIBLE_DEVICES
              value: all
            - name: NVIDIA_DRIVER_CAPABILITIES
              value: compute,utility
          securityContext:
            {{- toYaml .Values.securityContext | nindent 12 }}
          volumeMounts:
            - name: kubelet-device-plugins-dir
              mountPath: /var/lib/kubelet/device-plugins
            - name: mps-shm
              mountPath: /dev/shm
            - name: mps-root
              mountPath: /mps
            - name: cdi-root
              mountPath: /var/run/cdi
          {{- with .Values.resources }}
          resources:
            {{- toYaml . | nindent 12 }}
          {{- end }}
      volumes:
        - name: kubelet-device-plugins-dir
          hostPath:
            path: /var/lib/kubelet/device-plugins
            type: Directory
        - name: mps-root
          hostPath:
            path: {{ .Values.mps.root }}
            type: DirectoryOrCreate
        - name: mps-shm
          hostPath:
            path: {{ .Values.mps.root }}/shm
        - name: cdi-root
          hostPath:
            path: /var/run/cdi
            type: DirectoryOrCreate
      {{- with .Values.nodeSelector }}
      nodeSelector:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.affinity }}
      affinity:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.tolerations }}
      tolerations:
        {{- toYaml . | nindent 8 }}
      {{- end }}
{{- end }}
