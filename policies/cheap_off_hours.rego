# Only cheap models outside business hours (Monday to Friday, 08:00-18:00 UTC).
#
# Off hours, a candidate whose output price is above max_off_hours_price_per_1k_output
# (USD per 1,000 tokens) or unknown is excluded, and the rest are tried cheapest first.
package gateway.routing

business_days := {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}

max_off_hours_price_per_1k_output := 0.002

business_hours if {
	input.time.weekday in business_days
	input.time.hour_utc >= 8
	input.time.hour_utc < 18
}

off_hours if not business_hours

exclude contains sprintf("%s/%s", [c.provider, c.model]) if {
	off_hours
	some c in input.candidates
	not cheap(c)
}

prefer := [sprintf("%s/%s", [row[1], row[2]]) | some row in by_price] if off_hours

by_price := sort([[c.price_per_1k_output, c.provider, c.model] |
	some c in input.candidates
	cheap(c)
])

cheap(c) if {
	is_number(c.price_per_1k_output)
	c.price_per_1k_output <= max_off_hours_price_per_1k_output
}
