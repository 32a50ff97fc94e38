# A model allow-list per team.
#
# Teams listed in team_models may only use those models: other candidates are excluded,
# and asking for another model by name is refused. Teams not listed are not restricted.
package gateway.routing

team_models := {
	"support": {"gpt-4o-mini", "anthropic.claude-3-haiku-20240307-v1:0"},
	"marketing": {"gpt-4o-mini", "gpt-4.1-mini", "anthropic.claude-3-5-haiku-20241022-v1:0"},
}

model_allowlist_applies if team_models[input.principal.team]

allowed_models := team_models[input.principal.team]

exclude contains sprintf("%s/%s", [c.provider, c.model]) if {
	model_allowlist_applies
	some c in input.candidates
	not c.model in allowed_models
}

deny contains sprintf("team %s may not use model %s", [input.principal.team, input.request.model]) if {
	model_allowlist_applies
	input.request.model != null
	not input.request.model in allowed_models
}
