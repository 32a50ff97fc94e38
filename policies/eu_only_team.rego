# Data residency: requests from the listed teams only reach candidates in the EU.
#
# A candidate outside the EU, or whose region is unknown, is excluded, so fallback can
# never carry such a request to another geography. If no EU candidate is configured the
# request is refused with a message that says why.
package gateway.routing

eu_only_teams := {"research-eu", "legal"}

eu_residency_applies if input.principal.team in eu_only_teams

exclude contains sprintf("%s/%s", [c.provider, c.model]) if {
	eu_residency_applies
	some c in input.candidates
	c.region != "eu"
}

deny contains sprintf("team %s may only use EU regions, and no EU model is configured", [input.principal.team]) if {
	eu_residency_applies
	count(eu_candidates) == 0
}

eu_candidates contains sprintf("%s/%s", [c.provider, c.model]) if {
	some c in input.candidates
	c.region == "eu"
}
