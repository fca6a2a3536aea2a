{{/*
Named templates of the canonid chart.

The chart's templates use only these functions besides Go's text/template
built-ins: include, toYaml, nindent, indent, quote, default, contains, trunc,
trimSuffix, int and sha256sum. deploy/deploytest renders the chart with just
those, without Helm: keep to them.
*/}}

{{/* canonid.name: the chart name, or nameOverride. */}}
{{- define "canonid.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* canonid.fullname: the name of every object: release-chart, or
fullnameOverride, at most 63 characters (a DNS label). */}}
{{- define "canonid.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* canonid.selectorLabels: what the Service, the PodDisruptionBudget and
the Deployment select the pods by. Never change them on an upgrade. */}}
{{- define "canonid.selectorLabels" -}}
app.kubernetes.io/name: {{ include "canonid.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* canonid.labels: the labels of every object. */}}
{{- define "canonid.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | trunc 63 | trimSuffix "-" }}
{{ include "canonid.selectorLabels" . }}
app.kubernetes.io/version: {{ default .Chart.AppVersion .Values.image.tag | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{/* canonid.secretName: the Secret canonid's environment comes from. */}}
{{- define "canonid.secretName" -}}
{{- default (include "canonid.fullname" .) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* canonid.image: repository:tag, the tag defaulting to appVersion. */}}
{{- define "canonid.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
