"""``make bench``: the authorizer measured beside the cryptographic floor and a hand-written baseline.

Run ``python -m bench`` (full) or ``python -m bench --quick`` (a few seconds, for CI). Every scenario
runs in one process, on the same keys, tokens and moto-backed role table, and timed scenarios are
interleaved round by round so that a ratio compares batches measured moments apart (this machine
is noisy: ratios measured in one run are what count, not absolute times).

Modules, one per scenario group:

* :mod:`bench.world`: keys, tokens, the role table (moto) and the authorizer under test;
* :mod:`bench.floor`: bare ``cryptography`` signature checks (RS256, ES256, EdDSA);
* :mod:`bench.baseline`: the authorizer a competent engineer would write by hand;
* :mod:`bench.ours`: our authorizer, new token and repeated token;
* :mod:`bench.cold_start`: fresh processes, ours against "import boto3 and create a client";
* :mod:`bench.rbac`: the RBAC decision with 1,000 roles / 10,000 permissions against 10;
* :mod:`bench.audit`: the audit consumer's CPU per record (when that code exists);
* :mod:`bench.gateway`: the local gateway under load, from :mod:`bench.loadgen` (a second process)
  against the gateway (authorizer answer cached, or a new token on every request) and the backend;
* :mod:`bench.capacity`: the capacity and cost model (``python -m bench.capacity --help``).
"""
