"""Module arguments against the inputs the module really has, without downloading it.

`terraform init` cannot fetch registry modules here, so a misspelt or removed input (v21 of the EKS module renamed
cluster_version to kubernetes_version) would only show up at plan time in CI. fleet/data/terraform-module-inputs.yaml
records the input names of every registry module version we pin, read from that release's variables.tf; a local
module's inputs are the variables declared in its directory.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from fleet.datafiles import DataFileError, load_model, packaged
from fleet.eks.terraform import META_ARGUMENTS
from fleet.terraform_hcl import TfTree, local_source
from fleet.validate.terraform_rules import is_registry

INPUTS_FILE = "terraform-module-inputs.yaml"


class PinnedModule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str
    version: str
    from_: str = Field(alias="from")  # `from` is a Python keyword
    checked: str
    inputs: list[str]


class ModuleInputs(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    modules: list[PinnedModule]

    def find(self, source: str, version: str) -> PinnedModule | None:
        return next((m for m in self.modules if (m.source, m.version) == (source, version)), None)


def load_inputs(path: Path | None = None) -> ModuleInputs:
    """The recorded inputs (the packaged file by default). Raises DataFileError."""
    return load_model(path or packaged(INPUTS_FILE), ModuleInputs)


def module_input_findings(tree: TfTree, inputs_file: Path | None = None) -> tuple[list[str], int]:
    """Errors for unknown arguments, unrecorded pins and missing required local inputs; module blocks checked."""
    errors: list[str] = []
    recorded: ModuleInputs | None = None
    checked = 0
    for tf_dir, block in tree.blocks("module"):
        source, version = str(block.body.get("source", "")), str(block.body.get("version", ""))
        arguments = sorted(set(block.body) - META_ARGUMENTS)
        if local_source(source):
            checked += 1
            target = tree.dirs.get((tf_dir.path / source).resolve())
            if target is None:
                errors.append(f"{block.where}: local source {source} has no *.tf files")
                continue
            declared = target.variables
            errors += [f"{block.where}: {a} is not a variable of {target.rel}" for a in arguments if a not in declared]
            required = [n for n, v in declared.items() if "default" not in v.body and n not in block.body]
            errors += [f"{block.where}: required input {n} of {target.rel} is not passed" for n in required]
        elif is_registry(source):
            checked += 1
            if recorded is None:
                try:
                    recorded = load_inputs(inputs_file)
                except DataFileError as exc:
                    return [*errors, str(exc)], checked
            pinned = recorded.find(source, version)
            if pinned is None:
                errors.append(
                    f"{block.where}: {source} {version or '(no version)'} is not in {INPUTS_FILE}; record its "
                    "inputs from that release's variables.tf"
                )
                continue
            unknown = [a for a in arguments if a not in pinned.inputs]
            errors += [f"{block.where}: {a} is not an input of {source} {version}" for a in unknown]
    return errors, checked
