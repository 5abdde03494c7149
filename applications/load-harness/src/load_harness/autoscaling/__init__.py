"""The autoscaling report of a driver run: how the HPA reacted to the load, when each stage settled, and what the
traffic cost. `compute.build_report` is pure (a run and a cluster timeline in, a report out), so it is checked
against a recorded timeline; `service` reads both for a stored run; `render` draws the charts as SVG."""
