"""``loopline kfp``: compile the pipeline for Kubeflow Pipelines, and submit it to a server."""

from __future__ import annotations

from pathlib import Path

import click

from loopline.cli._output import echo_json

__all__ = ["kfp_group"]

DEFAULT_PACKAGE = "kfp-pipeline.yaml"
# Files that define the pipeline itself: the package must never overwrite them.
_PIPELINE_FILES = ("dvc.yaml", "pipeline.yaml", "params.yaml")

json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


@click.group("kfp")
def kfp_group() -> None:
    """Run the pipeline on Kubeflow Pipelines (needs `pip install 'loopline[kfp]'`).

    `compile` turns the stages of dvc.yaml into a KFP v2 pipeline package, one container task
    per stage; `submit` starts a run of that package on a Kubeflow Pipelines server.
    """


@kfp_group.command("compile")
@click.option(
    "-o",
    "--output",
    default=DEFAULT_PACKAGE,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Where to write the pipeline package (YAML).",
)
@click.option(
    "--image",
    required=True,
    metavar="IMAGE",
    help="Container image every stage runs in; it must hold the project and `loopline`.",
)
@click.option("--name", help="Pipeline name (default: the project folder's name).")
@click.option(
    "--remote-url",
    metavar="URL",
    help="Remote the tasks exchange data through (default: the project's default remote "
    "as configured inside the image). Can also be set per run.",
)
@json_option
def compile_command(
    output: str, image: str, name: str | None, remote_url: str | None, as_json: bool
) -> None:
    """Compile the pipeline into a Kubeflow Pipelines v2 package.

    Each stage becomes a task running in IMAGE, whose working directory must be the project
    root (the git checkout, with .loopline/config.yaml) and which has `loopline` installed.
    A task removes the image's loopline.lock, runs `loopline pull`, then the stage's commands
    in its wdir (stopping at the first failure), then `loopline add` and `loopline push` of
    its outs. The outs' pointer files go to the downstream tasks as task parameters; their
    data goes through the remote. A task starts after the tasks of the stages it depends on.
    Kubeflow's step cache is off.

    The pipeline parameter remote_url (default: --remote-url) names the remote; when it is
    set, each task adds it as remote 'kfp' in its own config.local.yaml.
    """
    from loopline.core.project import find_project_root

    root = find_project_root()
    package = Path(output)
    _refuse_pipeline_file(root, package)
    from loopline.pipeline import compile_pipeline, kfp_stages

    stages = kfp_stages(root)
    pipeline_name = name or root.name
    compile_pipeline(stages, name=pipeline_name, image=image, remote_url=remote_url, output=package)
    if as_json:
        echo_json(
            {"package": str(package), "name": pipeline_name, "image": image, "stages": len(stages)}
        )
        return
    click.echo(
        f"Compiled {len(stages)} stages of '{pipeline_name}' into {package} (image {image}); "
        f"run it with `loopline kfp submit {package} --host URL`"
    )


def _refuse_pipeline_file(root: Path, package: Path) -> None:
    from loopline.core.errors import InvalidInput

    if package.resolve() in {(root / f).resolve() for f in _PIPELINE_FILES}:
        raise InvalidInput(
            f"{package} is a pipeline definition file; compiling would overwrite it",
            hint=f"write the package elsewhere, e.g. -o {DEFAULT_PACKAGE}",
        )


@kfp_group.command("submit")
@click.argument("package", default=DEFAULT_PACKAGE, type=click.Path(dir_okay=False))
@click.option(
    "--host",
    required=True,
    metavar="URL",
    help="Kubeflow Pipelines API, e.g. http://127.0.0.1:8080 through "
    "`kubectl port-forward -n kubeflow svc/ml-pipeline-ui 8080:80`.",
)
@click.option("--experiment", help="Experiment to file the run under (default: the server's).")
@click.option("--run-name", help="Name of the run (default: chosen by Kubeflow).")
@click.option("--remote-url", metavar="URL", help="Remote for this run (overrides the package's).")
@json_option
def submit_command(
    package: str,
    host: str,
    experiment: str | None,
    run_name: str | None,
    remote_url: str | None,
    as_json: bool,
) -> None:
    """Start a run of PACKAGE (default: kfp-pipeline.yaml) on a Kubeflow Pipelines server."""
    from loopline.pipeline import submit_pipeline
    from loopline.pipeline._kfp_script import REMOTE_PARAMETER

    arguments = {REMOTE_PARAMETER: remote_url} if remote_url else {}
    run = submit_pipeline(
        Path(package), host=host, experiment=experiment, run_name=run_name, arguments=arguments
    )
    if as_json:
        echo_json(run.__dict__)
        return
    click.echo(f"Submitted run {run.run_id} of {package} to {host}: {run.url}")
