#!/usr/bin/env bash
# What one client request costs clvmd-rs's state machine with 10, 100 and 1000 LV activation
# locks held: Node::step and Node::next_wake as the daemon's loop calls them, every DLM call
# granted at once by a stand-in (clvmd-rs/core/examples/step_cost.rs). Not a test: prints the
# time per request and per step. The cost should not grow with the locks held (2026-12-07:
# a step drives only the resources its input changed; before, every resource, and a request
# cost 11 us with 10 locks held and 1.1 ms with 1000 on the same host).
#
#   bench/clvmd-step.sh [ROUNDS]   (default 2000 rounds of 5 requests per lock count)
set -euo pipefail
cd "$(dirname "$0")/.."
exec cargo run -q --release --locked -p clvmd-core --example step_cost -- "$@"
