# The bench-finance workload in Rego, equivalent to examples/bench-finance/policy.yaml.
#
# Input:  {"agent": ..., "tool": ..., "args": {...}}, set as JSON text.
# Data:   {"agents": {"<agent>": {"blueprint": "<blueprint>"}}}
#
# Rego has one number type (JSON numbers): `is_number` accepts 50.5 and, after JSON
# decoding, 50.0 is the same value as 50. The integer check below rejects fractional
# values; an integral float such as 50.0 cannot be told apart from 50 in Rego's data
# model, so the benchmark reports it as a known disagreement rather than hiding it.
package bench

import rego.v1

default allow := false

allow if {
	permit
	not forbidden
}

forbidden if input.tool == "shell.exec"

permit if {
	data.agents[input.agent].blueprint == "finance-bot"
	input.tool == "payment.send"
	is_integer(input.args.amount)
	input.args.amount <= 100
	input.args.recipient in {"vendor-a", "vendor-b"}
}

is_integer(x) if {
	is_number(x)
	x == floor(x)
}
