"""The local observability stack: `make run-replicas N=3`, `make observability`, `make observability-down`.

N `load-harness serve` processes behind one balancer (nginx, or a small Python proxy when nginx is missing),
sharing one store, and Debian's Prometheus, Pushgateway and Alertmanager on loopback with the repository's
configuration (observability/). Every process runs detached, in its own session, and is recorded under the var
directory so that `down` stops exactly what was started (docs/observability.md, "Local stack")."""
