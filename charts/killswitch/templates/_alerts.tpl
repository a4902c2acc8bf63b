{{/*
The alert rule groups of the PrometheusRule: files/alerts.yaml (the one source, which promtool
reads as it is) with what prometheusRule asks for applied, and nothing else changed:
- the matcher job="killswitch" of every selector becomes prometheusRule.selector, by default the
  release's job (the Service's name, as the ServiceMonitor labels its targets) and namespace;
- alerts.<name>.threshold replaces the number before the rule's `# threshold` comment,
  alerts.<name>.for its `for`, alerts.<name>.severity its severity label, and
  alerts.<name>.enabled=false leaves it out;
- additionalRuleLabels are added to every alert's labels (an alert's own severity wins);
- runbookBaseUrl replaces the "docs/deployment.md" of each runbook_url (the anchor stays).
A name under alerts that is no alert of the file, or a threshold for an alert without one, stops
the render (values.schema.json refuses them first; this says it when the schema is skipped).
*/}}
{{- define "killswitch.alertGroups" -}}
{{- $p := .Values.prometheusRule }}
{{- $overrides := $p.alerts | default dict }}
{{- $selector := $p.selector | default (printf "job=%q,namespace=%q" (include "killswitch.fullname" .) .Release.Namespace) }}
{{- $source := fromYaml (.Files.Get "files/alerts.yaml") }}
{{- $known := list }}
{{- $groups := list }}
{{- range $group := $source.groups }}
{{- $rules := list }}
{{- range $rule := $group.rules }}
{{- $known = append $known $rule.alert }}
{{- $o := get $overrides $rule.alert | default dict }}
{{- if or (not (hasKey $o "enabled")) $o.enabled }}
{{- $expr := replace "job=\"killswitch\"" $selector $rule.expr }}
{{- if hasKey $o "threshold" }}
{{- if not (regexMatch "[0-9][ \t]*# threshold" $expr) }}
{{- fail (printf "killswitch: prometheusRule.alerts.%s.threshold: the alert %s has no threshold to set" $rule.alert $rule.alert) }}
{{- end }}
{{- $expr = regexReplaceAll "[-+]?[0-9][0-9.eE+-]*([ \t]*# threshold)" $expr (printf "%v${1}" $o.threshold) }}
{{- end }}
{{- $labels := merge (dict) (dict "severity" ($o.severity | default $rule.labels.severity)) ($rule.labels | default dict) ($p.additionalRuleLabels | default dict) }}
{{- $annotations := deepCopy ($rule.annotations | default dict) }}
{{- if and $p.runbookBaseUrl $annotations.runbook_url }}
{{- $_ := set $annotations "runbook_url" (printf "%s%s" $p.runbookBaseUrl (trimPrefix "docs/deployment.md" $annotations.runbook_url)) }}
{{- end }}
{{- $out := dict "alert" $rule.alert "expr" $expr "labels" $labels "annotations" $annotations }}
{{- with ($o.for | default $rule.for) }}
{{- $_ := set $out "for" . }}
{{- end }}
{{- $rules = append $rules $out }}
{{- end }}
{{- end }}
{{- $groups = append $groups (dict "name" $group.name "rules" $rules) }}
{{- end }}
{{- range $name, $_ := $overrides }}
{{- if not (has $name $known) }}
{{- fail (printf "killswitch: prometheusRule.alerts.%s: no such alert; the alerts are %s" $name (join ", " $known)) }}
{{- end }}
{{- end }}
{{- toYaml (dict "groups" $groups) }}
{{- end }}
