"""The Kubernetes-side pre-destroy phase (`fleet pre-destroy`): run before `terraform destroy`."""

from fleet.predestroy.command import pre_destroy_command

__all__ = ["pre_destroy_command"]
