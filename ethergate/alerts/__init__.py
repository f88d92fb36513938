"""Alerts: a workspace's low balance and its keys' spend caps, told to owners once per crossing.

The periodic sweep (`sweep.check_crossings`) compares balances and month-to-date key spend with their
thresholds, remembers each crossing in `alert_states` and re-arms it when the value goes back; the /v1
path does no alert work at all. A crossing emails the owners and, when the workspace set one, queues a
signed webhook that the same sweep delivers with retries.
"""
