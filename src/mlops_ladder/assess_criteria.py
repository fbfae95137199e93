"""The maturity criteria of `assess`, one small unit each.

Each check takes the read repository (a `Project`) and returns the evidence that meets the
criterion, or None; its docstring says what it accepts and what it refuses. A `near` function
says what came close when the criterion is not met. Evidence is always something code or
configuration does: a call, an import, a comparison, a CI step's command, a pipeline's
structure. Never a word in a string, a comment, a document, a job's name or a file's name alone.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from .assess_ci import (
    Job,
    Pipeline,
    Step,
    lints,
    pipelines,
    program,
    runs_tests,
    segments,
    uses_test_action,
)
from .assess_reader import Call, Hit, Map, Repo, Source, Text

Evidence = tuple[Hit, ...]


class Project:
    """A read repository and its CI pipelines, each scoped to the assessed folder."""

    def __init__(self, repo: Repo):
        self.repo = repo
        self.pipelines = [
            pipeline
            for source in [*repo.yaml(), *repo.text()]
            for pipeline in pipelines(source)
            if not source.is_test
        ]

    def steps(self) -> Iterator[tuple[Pipeline, Job, Step]]:
        """Every CI step that works on this folder (a monorepo's top CI: only those that do)."""
        for pipeline in self.pipelines:
            for job, step in pipeline.steps(pipeline.source.from_top):
                yield pipeline, job, step

    def code(self, tests: bool = False) -> Iterator[Source]:
        return self.repo.code(tests)

    def calls(self, accept: Callable[[Call], bool], prefer: str = "") -> Hit | None:
        """The first call that `accept`s, in files whose name holds `prefer` first."""
        for source in _preferring(self.code(), prefer):
            assert source.python is not None
            for call in source.python.calls:
                if accept(call):
                    return source.hit(call.line)
        return None


def _preferring(sources: Iterable[Source], word: str) -> list[Source]:
    """Sources whose file name holds `word` first: the likeliest place of the evidence."""
    return sorted(sources, key=lambda s: not word or word not in s.name)


def _scalars(value: Any) -> Iterator[Text]:
    """Every scalar of a YAML document."""
    if isinstance(value, Text):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _scalars(item)
    elif isinstance(value, list):
        for item in value:
            yield from _scalars(item)


def _step_hit(pipeline: Pipeline, step: Step, matched: str) -> Hit:
    return pipeline.source.hit(step.line, matched.strip().split("\n")[0])


# --- Level 0 --------------------------------------------------------------------------------

ML_LIBRARIES = (
    "sklearn", "torch", "tensorflow", "keras", "xgboost", "lightgbm", "catboost", "jax",
    "statsmodels", "transformers", "pytorch_lightning", "lightning", "prophet", "sktime",
)  # fmt: skip


def check_code(project: Project) -> Evidence | None:
    """ML code.

    Accepts: a notebook; else a Python file that imports an ML library; else any Python file.
    Refuses: code in vendored, example, documentation or test-data folders, and templates.
    """
    repo = project.repo
    notebooks = [path for path in repo.code_files if path.endswith(".ipynb")]
    if notebooks:
        return (Hit(notebooks[0], 0, notebooks[0], "a notebook"),)
    for source in repo.code():
        assert source.python is not None
        if found := source.python.imports_any(ML_LIBRARIES):
            return (source.hit(found[1]),)
    if repo.code_files:
        return (Hit(repo.code_files[0], 0, repo.code_files[0], "Python code"),)
    return None


# --- Level 1 --------------------------------------------------------------------------------


def _is_fixture(decorators: tuple[str, ...]) -> bool:
    return any(d.rpartition(".")[2] in ("fixture", "yield_fixture") for d in decorators)


def check_tests(project: Project) -> Evidence | None:
    """Unit tests.

    Accepts: a test function (`def test*`, not a fixture) or a `unittest.TestCase` class in a
    test file (tests/, test_*.py, *_test.py, Django's tests.py).
    Refuses: conftest.py (fixtures and hooks are no tests), helpers in tests/ without a test,
    notebooks.
    """
    for source in project.code(tests=True):
        if source.kind != "python" or source.name == "conftest.py":
            continue
        assert source.python is not None
        for definition in source.python.definitions:
            if definition.kind == "class" and any(
                base.rpartition(".")[2] in ("TestCase", "IsolatedAsyncioTestCase")
                for base in definition.bases
            ):
                return (source.hit(definition.line),)
            if (
                definition.kind == "def"
                and definition.name.startswith("test")
                and not _is_fixture(definition.decorators)
            ):
                return (source.hit(definition.line),)
    return None


def check_ci(project: Project) -> Evidence | None:
    """CI runs the tests.

    Accepts: a CI step (GitHub Actions, GitLab CI, Azure Pipelines, Jenkins, CircleCI,
    Bitbucket, Travis, ...) whose command runs a test runner: pytest, unittest, tox or nox
    (unless only lint or docs sessions), `make test`/`check`, Django's `manage.py test`, or a
    test action/orb. A monorepo's top CI counts only where its path filters and working
    directories reach this folder.
    Refuses: a job or step merely named "test", `pip install pytest`, "Publish to Test PyPI",
    a CI that only lints, a top CI scoped to another folder.
    """
    for pipeline, _, step in project.steps():
        if found := runs_tests(step.command):
            return (_step_hit(pipeline, step, found),)
        if uses_test_action(step):
            return (pipeline.source.hit(step.line, f"uses: {step.uses}"),)
    return None


def near_ci(project: Project) -> str | None:
    for pipeline, _, step in project.steps():
        if found := lints(step.command):
            return f"{pipeline.source.where(step.line)} lints ({found}), but no step runs tests"
    if project.pipelines:
        first = project.pipelines[0]
        if first.source.from_top and not any(True for _ in project.steps()):
            return f"{first.source.path} is scoped to other folders of the repository"
        return f"{first.source.path} ({first.system}) runs no tests"
    return None


# --- Level 2 --------------------------------------------------------------------------------

TRACKERS = ("mlflow", "wandb", "neptune", "comet_ml", "clearml", "dvclive", "aim")
TRACKING_CALL = re.compile(
    r"\.(?:start_run|autolog|log(?:_\w+)?|init\w*|set_experiment|create_experiment|Experiment|start"
    r"|Live|Run|track|Task\.init)$"
)
FRAMEWORK_LOGGERS = re.compile(
    r"(?:MLFlow|Wandb|Neptune|Comet|DVCLive|Aim|ClearML)Logger$|Wandb\w*Callback$|MLflowCallback$"
)
REPORTS_TO = re.compile(r"^(?:mlflow|wandb|comet_ml|neptune|clearml|dvclive|all)$")
AZURE_RUN = re.compile(r"^azureml\.core(?:\.run)?\.Run\.get_context$|\.start_logging$")


def _tracking_call(call: Call) -> bool:
    return bool(
        (call.name.split(".")[0] in TRACKERS and TRACKING_CALL.search(call.name))
        or FRAMEWORK_LOGGERS.search(call.name)
        or ("report_to" in call.keywords and any(REPORTS_TO.match(s) for s in call.strings))
        or ("experiment_tracker" in call.keywords and call.name.startswith("zenml"))
    )


def check_tracking(project: Project) -> Evidence | None:
    """Tracked training runs.

    Accepts: a call that logs runs to MLflow, W&B, Neptune, Comet, ClearML, DVCLive or Aim
    (resolved through the imports: `import mlflow as mf; mf.start_run()`), a framework's
    logger or callback for one, `report_to="mlflow"`, a ZenML step's experiment tracker, and
    the Azure ML SDK's run (`Run.get_context()` then `run.log(...)`).
    Refuses: an import alone, `wandb.login()`, the same words in strings or comments.
    """
    if hit := project.calls(_tracking_call, prefer="train"):
        return (hit,)
    for source in project.code():
        assert source.python is not None
        calls = source.python.calls
        if any(AZURE_RUN.search(c.name) for c in calls):
            for call in calls:
                if call.last in ("log", "log_list", "log_row", "log_table", "log_image"):
                    return (source.hit(call.line),)
    return None


def near_tracking(project: Project) -> str | None:
    for source in project.code():
        assert source.python is not None
        if found := source.python.imports_any(TRACKERS):
            return f"{source.where(found[1])} imports {found[0]} but logs no run"
    return None


def _dvc_pipeline(source: Source) -> Hit | None:
    for document in source.documents:
        stages = document.get("stages") if isinstance(document, dict) else None
        if isinstance(stages, dict) and stages:
            line = document.key_line("stages")
            return source.hit(line, "a DVC pipeline (stages; dvc.lock pins their data)")
    return None


def _dvc_tracked(source: Source) -> Hit | None:
    for document in source.documents:
        outs = document.get("outs") if isinstance(document, dict) else None
        if isinstance(outs, list) and any(isinstance(o, dict) and "path" in o for o in outs):
            return source.hit(document.key_line("outs"), "DVC-tracked data")
    return None


def _kedro_versioned(source: Source) -> Hit | None:
    for document in source.documents:
        for dataset in document.values() if isinstance(document, dict) else ():
            flag = dataset.get("versioned") if isinstance(dataset, dict) else None
            if isinstance(flag, Text) and flag.lower() == "true":
                return source.hit(flag.line, "Kedro versioned dataset")
    return None


def check_versioned(project: Project) -> Evidence | None:
    """Versioned data and pipeline.

    Accepts: a DVC pipeline (dvc.yaml with stages), DVC-tracked data (a .dvc file with outs),
    a Kedro dataset with `versioned: true`, a Pachyderm pipeline, a ZenML `@pipeline`, a
    Metaflow `FlowSpec`, and Azure ML datasets (`Dataset.register`, `ml_client.data
    .create_or_update`).
    Refuses: .dvc files in tests or test data, an MLproject (it runs code, versions nothing),
    a `.dvc/` folder with nothing tracked.
    """
    for source in project.repo.yaml():
        if source.from_top or source.is_test:
            continue
        if source.name == "dvc.yaml" and (hit := _dvc_pipeline(source)):
            return (hit,)
        if source.name.endswith(".dvc") and (hit := _dvc_tracked(source)):
            return (hit,)
        if source.name.startswith("catalog") and (hit := _kedro_versioned(source)):
            return (hit,)
        for document in source.documents:
            if isinstance(document, dict) and "pipeline" in document:
                spec = document.get("input")
                if isinstance(spec, dict) and "pfs" in spec:
                    return (source.hit(1, "a Pachyderm pipeline (versioned data repos)"),)
    for source in project.code():
        python = source.python
        assert python is not None
        for definition in python.definitions:
            if any(re.match(r"^zenml\..*pipeline$", d) for d in definition.decorators):
                return (source.hit(definition.line),)
            if any(re.match(r"^metaflow\..*FlowSpec$", b) for b in definition.bases):
                return (source.hit(definition.line),)
        azure = python.imports_any(["azureml"])
        for call in python.calls:
            if (
                azure
                and call.last == "register"
                and ("Dataset" in call.name or "create_new_version" in call.keywords)
            ):
                return (source.hit(call.line),)
            if re.search(r"\.data\.create_or_update$", call.name) and python.imports_any(
                ["azure.ai.ml"]
            ):
                return (source.hit(call.line),)
    return None


def near_versioned(project: Project) -> str | None:
    if project.repo.top_dvc:
        return "DVC is initialised (.dvc/) but tracks no data and has no dvc.yaml"
    if any(s.name == "MLproject" for s in project.repo.sources):
        return "MLproject runs the code, but versions neither data nor pipeline outputs"
    return None


# --- Level 3 --------------------------------------------------------------------------------

REGISTRY_CALLS = {
    "register_model", "set_registered_model_alias", "transition_model_version_stage",
    "create_model_version", "create_registered_model", "copy_model_version", "link_model",
    "init_model_version", "mlflow_register_model_step", "OutputModel", "register_model_version",
}  # fmt: skip
REGISTRY_KEYWORDS = {"registered_model_name", "model_package_group_name"}


def _registers(call: Call) -> bool:
    return bool(
        call.last in REGISTRY_CALLS
        or REGISTRY_KEYWORDS & set(call.keywords)
        or re.search(r"(?:^|\.)Model\.(?:register|upload)$", call.name)  # Azure ML, Vertex
        or re.search(r"\.models\.create_or_update$", call.name)  # azure.ai.ml
        or any(s.startswith(("models:/", "wandb-registry-")) for s in call.strings)
        or any("model-registry/" in s for s in call.strings)
    )


def check_registry(project: Project) -> Evidence | None:
    """Model registry.

    Accepts: a call that registers a model or addresses one in a registry: MLflow
    `register_model`, `registered_model_name=`, aliases and stages, a `models:/` URI passed to
    a call; W&B `link_model` or a registry path; Neptune, SageMaker model packages, Vertex
    `Model.upload`, Azure ML `Model.register` and `ml_client.models.create_or_update`,
    ClearML `OutputModel`, ZenML's `mlflow_register_model_step`.
    Refuses: a `models:/` or registry path in a string that no call is given (a constant, a
    docstring, a comment), `log_model` alone.
    """
    hit = project.calls(_registers, prefer="regist")
    if hit:
        return (hit,)
    for source in project.code():
        assert source.python is not None
        if found := source.python.imports_any(["zenml.integrations.mlflow.steps"]):
            names = {d for d in source.python.aliases.values() if "register" in d}
            if names:
                return (source.hit(found[1]),)
    return None


def near_registry(project: Project) -> str | None:
    hit = project.calls(lambda call: call.last == "log_model")
    return f"{hit.where} logs a model, but nothing registers it" if hit else None


PROMOTES = {
    "set_registered_model_alias", "transition_model_version_stage", "copy_model_version",
    "register_model", "link_model", "create_model_version", "update_model_version",
    "deploy", "create_or_update", "begin_create_or_update", "update_endpoint", "register",
}  # fmt: skip
METRIC = re.compile(
    r"rmse|mse|mae|mape|loss|acc|auc|f1|score|metric|r2|precision|recall|error|champion"
    r"|challenger|candidate|baseline|prod|current|best|incumbent|new|old|latest|deployed",
    re.I,
)
THRESHOLD = re.compile(r"^(?:[A-Z0-9_]+|.*(?:threshold|limit|floor|ceiling|toleran|max|min).*)$")
GATE_KEYWORDS = {"validation_thresholds", "baseline_model"}
MLFLOW_GATES = re.compile(r"^mlflow\..*(?:MetricThreshold|validate_evaluation_results)$")
GATE_COMMAND = re.compile(r"(?<![A-Za-z])gate\b|\bchampion\b|\bchallenger\b|compare[_-]?models?")


def _metric_side(names: frozenset[str]) -> bool:
    return any(METRIC.search(n) for n in names) and not all(THRESHOLD.match(n) for n in names)


def _compares_models(source: Source) -> Hit | None:
    """A comparison of two model metrics, where the code also promotes or registers."""
    python = source.python
    assert python is not None
    promoting = {c.function for c in python.calls if c.last in PROMOTES}
    if not promoting:
        return None
    # a function that decides and one that promotes: the decider is called by the promoter
    called_by_promoter = {c.last for c in python.calls if c.function in promoting}
    for comparison in python.comparisons:
        if comparison.in_loop or comparison.constant or comparison.left == comparison.right:
            continue
        if not (_metric_side(comparison.left) and _metric_side(comparison.right)):
            continue
        if comparison.function in promoting or comparison.function in called_by_promoter:
            return source.hit(comparison.line)
    return None


def _mlflow_validation(call: Call) -> bool:
    return bool(MLFLOW_GATES.match(call.name)) or (
        call.name.startswith("mlflow") and bool(GATE_KEYWORDS & set(call.keywords))
    )


def check_gate(project: Project) -> Evidence | None:
    """Evaluation gate.

    Accepts: MLflow's validation (`MetricThreshold`, `validation_thresholds=`,
    `baseline_model=`, `validate_evaluation_results`); a comparison of two model metrics
    (neither a literal nor a threshold constant, outside loops) in code that promotes or
    registers the model, whatever the variables are called (`new_rmse < prod_rmse`,
    `metrics["auc"] > best["auc"]`); a gate stage in dvc.yaml; a CI step that runs a gate or
    a champion/challenger comparison.
    Refuses: a class or type alias named ...Threshold, a best-loss checkpoint in a training
    loop, a comparison with a fixed number, a SonarQube quality gate.
    """
    if hit := project.calls(_mlflow_validation):
        return (hit,)
    for source in _preferring(project.code(), "gate"):
        if hit := _compares_models(source):
            return (hit,)
    for source in project.repo.yaml():
        if source.name != "dvc.yaml" or source.from_top:
            continue
        for document in source.documents:
            stages = document.get("stages") if isinstance(document, dict) else None
            if not isinstance(stages, Map):
                continue
            for name in stages:
                if re.search(r"(?:^|[_-])gate(?:$|[_-])", name, re.I):
                    return (source.hit(stages.key_line(name)),)
    for pipeline, _, step in project.steps():
        for segment in segments(step.command):
            if GATE_COMMAND.search(segment) and program(segment)[0] != "echo":
                return (_step_hit(pipeline, step, segment),)
    return None


PREDICT_PATH = re.compile(
    r"^/(?:[\w{}<>:.-]+/)*(?:predict\w*|predictions?|score|scoring|invocations|infer\w*)/?$"
)
PREDICT_IN_URL = re.compile(
    r"/(?:predict\w*|predictions?|score|scoring|invocations|infer\w*)(?:$|[/?])"
)
ROUTE_METHODS = {"post", "get", "put", "route", "api_route", "api"}
SERVING_DECORATORS = re.compile(
    r"^(?:bentoml\.(?:api|service)|ray\.serve\.deployment|serve\.deployment|\w+\.api)$"
)
SERVING_BASES = re.compile(r"(?:^|\.)(?:LitAPI|BasePredictor)$|^kserve\.Model$")
SERVE_COMMAND = re.compile(r"mlflow\s+models\s+serve|torchserve\s+--start|tritonserver\b")
CLIENT_CALLS = {"post", "get", "put", "request", "urlopen", "Request", "fetch", "patch"}


def _app(project: Project) -> Hit | None:
    """Where predictions are served: a route, a serving framework, or a serving command."""
    for source in project.code():
        python = source.python
        assert python is not None
        for definition in python.definitions:
            routes = [
                route
                for decorator in definition.decorators
                if decorator.rpartition(".")[2] in ROUTE_METHODS
                for route in definition.routes
            ]
            if any(PREDICT_PATH.match(route) for route in routes):
                return source.hit(definition.line - 1 or definition.line)
            if any(SERVING_DECORATORS.match(d) for d in definition.decorators) and (
                "bentoml" in " ".join(definition.decorators)
                or python.imports_any(["bentoml", "ray"])
            ):
                return source.hit(definition.line)
            if any(SERVING_BASES.search(b) for b in definition.bases):
                return source.hit(definition.line)
        for call in python.calls:
            if call.last in ("add_url_rule", "add_api_route", "Route") and any(
                PREDICT_PATH.match(s) for s in call.strings
            ):
                return source.hit(call.line)
            if call.name == "bentoml.Service":
                return source.hit(call.line)
    for source in project.repo.text():
        if hit := source.find(SERVE_COMMAND):
            return hit
    for source in project.repo.yaml():
        for document in source.documents:
            for scalar in _scalars(document):
                if SERVE_COMMAND.search(scalar):
                    return source.hit(scalar.line)
    return None


def check_service(project: Project) -> Evidence | None:
    """Tested scoring service.

    Accepts: a prediction route (`@app.post("/predict")` in FastAPI, Flask, Starlette, ...;
    BentoML, Ray Serve, LitServe, Cog, KServe; `mlflow models serve`) and, in a test, a call
    that sends a request to a prediction path, whatever the client is called (a fixture's
    `test_client.post("/predict")`, `requests.post(url + "/predict")`), or a test that imports
    the app's module and makes a client of it.
    Refuses: a route that no test calls, a "predict" function that is not served, a request
    made by a conftest.py fixture alone.
    """
    app = _app(project)
    if app is None:
        return None
    module = PurePosixPath(app.path).stem
    for source in project.code(tests=True):
        python = source.python
        assert python is not None
        if source.name == "conftest.py":
            continue
        for call in python.calls:
            if call.last in CLIENT_CALLS and any(PREDICT_IN_URL.search(s) for s in call.strings):
                return app, source.hit(call.line)
        imported = any(name.split(".")[-1] == module for name, _ in python.imports)
        imported = imported or any(v.split(".")[-2:-1] == [module] for v in python.aliases.values())
        if imported:
            for call in python.calls:
                if call.last in ("TestClient", "test_client", "AsyncClient", "ASGITransport"):
                    return app, source.hit(call.line)
    return None


def near_service(project: Project) -> str | None:
    app = _app(project)
    return f"{app.where} serves predictions, but no test calls it" if app else None


DOCS = re.compile(r"pages|gh-deploy|mkdocs|sphinx|\bdocs?\b|documentation|readthedocs", re.I)
PACKAGE_PUBLISH = re.compile(
    r"pypi-publish|twine\s+upload|(?:uv|poetry|flit|hatch|pdm)\s+publish|npm\s+publish"
    r"|action-gh-release|TwineAuthenticate|testpypi",
    re.I,
)
DEPLOY_COMMAND = re.compile(
    r"\bkubectl\s+(?:apply|set|rollout|create|replace)|\bhelm\s+(?:upgrade|install)"
    r"|\bgcloud\s.*\bdeploy\b|\baz\s+(?:ml|webapp|containerapp|functionapp|aks)\b"
    r"|\baws\s+(?:sagemaker|ecs|lambda|apprunner)\b|\b(?:serverless|sls|fly|flyctl|cdk|sam)\s+deploy"
    r"|\bterraform\s+apply|\bbentoml\s+(?:deploy|push)|\bmlflow\s+deployments"
    r"|\bdatabricks\s+bundle\s+deploy|\bmodal\s+deploy|\bargocd\s+app\s+sync"
    r"|(?:^|[\s/._-])(?:deploy|promote|release[_-]model|rollout)\w*(?:\.sh|\.py)?\b",
    re.I,
)
DEPLOY_ACTIONS = re.compile(
    r"webapps-deploy|k8s-deploy|functions-action|deploy-cloudrun|deploy-cloud-functions"
    r"|amazon-ecs-deploy|sagemaker|aml-deploy|^(?:AzureWebApp|AzureRmWebAppDeployment|AzureFunctionApp"
    r"|KubernetesManifest|HelmDeploy|Kubernetes|AzureContainerApps|AzureMLModelDeploy)@",
    re.I,
)
IMAGE_PUSH = re.compile(r"\b(?:docker|podman)\s+(?:image\s+)?push\b|\s--push\b")
MODEL_WORK = re.compile(
    r"(?<![a-z])(?:re)?train|\bdvc\s+(?:repro|exp)|\bmlflow\b|regist|promot|evaluat|\bgate\b"
    r"|champion|\bmodels?\b",
    re.I,
)
NOT_AN_ENVIRONMENT = re.compile(r"pypi|pages|docs?\b|documentation", re.I)


def _image_push(step: Step) -> str | None:
    if found := IMAGE_PUSH.search(step.command):
        return next((s for s in segments(step.command) if IMAGE_PUSH.search(s)), found.group(0))
    inputs = dict(step.inputs)
    if re.search(r"build-push-action", step.uses) and inputs.get("push", "false") != "false":
        return f"{step.uses} with push: {inputs['push']}"
    if step.uses.startswith("Docker@") and re.search(r"push", inputs.get("command", ""), re.I):
        return f"{step.uses} {inputs['command']}"
    return None


def _publishes(step: Step) -> bool:
    return bool(
        PACKAGE_PUBLISH.search(step.command) or PACKAGE_PUBLISH.search(step.uses)
        or DOCS.search(step.command) or DOCS.search(step.uses)
    )  # fmt: skip


def check_cd(project: Project) -> Evidence | None:
    """Continuous delivery of the model.

    Accepts: a CI step that deploys or promotes (kubectl/helm, a cloud's deploy command or
    action, `az ml`, SageMaker, `make deploy`, `./deploy.sh`, `python -m x.promote`); a CI job
    that targets a deployment environment other than docs or a package index (GitHub
    `environment:`, an Azure `deployment:` job, a GitLab environment) and runs something; an
    image pushed by a pipeline that also trains, evaluates, registers or promotes the model;
    an Argo CD application.
    Refuses: docs deploys, package publishing (PyPI, Test PyPI, GitHub releases), an image of
    the code pushed on release with no model work in the pipeline, the word "deploy" in a
    job's name or a permission (`deployments: write`).
    """
    for pipeline, _, step in project.steps():
        if _publishes(step):
            continue
        for segment in segments(step.command):
            if DEPLOY_COMMAND.search(segment) and program(segment)[0] not in ("echo", "printf"):
                return (_step_hit(pipeline, step, segment),)
        if DEPLOY_ACTIONS.search(step.uses):
            return (pipeline.source.hit(step.line, f"uses: {step.uses}"),)
    for pipeline, job, _ in project.steps():
        environment = job.environment and not NOT_AN_ENVIRONMENT.search(job.environment)
        if environment and not any(_publishes(s) for s in job.steps):
            return (pipeline.source.hit(job.line, f"{job.name}: environment {job.environment}"),)
    for pipeline in project.pipelines:
        steps = pipeline.steps(pipeline.source.from_top)
        models = any(MODEL_WORK.search(s.command) for _, s in steps)
        for _, step in steps:
            if models and (found := _image_push(step)):
                return (_step_hit(pipeline, step, found),)
    for source in project.repo.yaml():
        for document in source.documents:
            if (
                isinstance(document, Map)
                and str(document.get("apiVersion", "")).startswith("argoproj.io")
                and document.get("kind") == "Application"
            ):
                return (source.hit(document.line, "an Argo CD application"),)
    return None


def near_cd(project: Project) -> str | None:
    for pipeline, _, step in project.steps():
        if found := _image_push(step):
            where = pipeline.source.where(step.line)
            return f"{where} pushes an image ({found}), but nothing there trains or ships a model"
    for pipeline, _, step in project.steps():
        if PACKAGE_PUBLISH.search(step.command) or PACKAGE_PUBLISH.search(step.uses):
            where = pipeline.source.where(step.line)
            return f"{where} publishes a package release, not a model or its service"
    return None


# --- Level 4 --------------------------------------------------------------------------------

MONITORS = (
    "evidently", "whylogs", "nannyml", "alibi_detect", "frouros", "arize", "fiddler",
    "whylabs", "sagemaker.model_monitor", "azureml.datadrift", "deepchecks",
    "zenml.integrations.evidently", "zenml.integrations.whylogs", "zenml.integrations.deepchecks",
)  # fmt: skip
PROMETHEUS = re.compile(r"^prometheus_client\.(?:Counter|Gauge|Histogram|Summary)$")
PREDICTION_METRIC = re.compile(r"predict|inference|score|drift", re.I)
PREDICTION_LOG = re.compile(
    r"(?:prediction|inference)s?_?log(?:s|ger|ging)?$|^predlog$|^log_predictions?$", re.I
)
SERVING_MODULE = re.compile(r"(?:^|_)(?:serve|server|serving|service|app|api|endpoint|inference)$")
STATISTICAL_TEST = re.compile(r"(?:^|\.)(?:ks_2samp|wasserstein_distance|jensenshannon|chisquare)$")


def check_monitoring(project: Project) -> Evidence | None:
    """Production monitoring.

    Accepts: an import of a monitoring library (Evidently, whylogs, NannyML, Alibi Detect,
    Deepchecks, ..., ZenML's Evidently/whylogs/Deepchecks integrations); a Prometheus metric
    of predictions or drift; a statistical drift test (`ks_2samp`, ...) in code about drift;
    SageMaker's `DataCaptureConfig`; a prediction log that the serving code writes.
    Refuses: examples/ (not the project's own), the words in docstrings or comments, a
    "prediction log" written by training or evaluation code.
    """
    for source in project.code():
        assert source.python is not None
        if found := source.python.imports_any(MONITORS):
            return (source.hit(found[1]),)
    if hit := project.calls(
        lambda c: (
            bool(PROMETHEUS.match(c.name))
            and PREDICTION_METRIC.search(c.strings[0] if c.strings else "") is not None
        )
    ):
        return (hit,)
    for source in project.code():
        python = source.python
        assert python is not None
        names = [
            *(c.name for c in python.calls),
            *(d.name for d in python.definitions),
            *(n for c in python.comparisons for n in c.left | c.right),
        ]
        if any("drift" in name.lower() for name in names):
            for call in python.calls:
                if STATISTICAL_TEST.search(call.name):
                    return (source.hit(call.line),)
    if hit := project.calls(lambda c: c.last == "DataCaptureConfig"):
        return (hit,)
    for source in project.code():
        python = source.python
        assert python is not None
        serving = SERVING_MODULE.search(PurePosixPath(source.path).stem)
        if not (serving or _app_in(source)):
            continue
        for call in python.calls:
            if any(PREDICTION_LOG.search(part) for part in call.name.split(".")):
                return (source.hit(call.line),)
    return None


def _app_in(source: Source) -> bool:
    python = source.python
    assert python is not None
    return any(
        d.rpartition(".")[2] in ROUTE_METHODS
        and any(PREDICT_PATH.match(r) for r in definition.routes)
        for definition in python.definitions
        for d in definition.decorators
    )


TRAINS = re.compile(
    r"(?<![a-z])(?:re)?train|\bdvc\s+(?:repro|exp\s+run)|\bkedro\s+run|\bmlflow\s+run|\.fit\b",
    re.I,
)
SCHEDULERS = ("airflow", "prefect", "dagster", "schedule", "apscheduler", "kfp", "zenml")
SCHEDULE_KEYWORDS = {"schedule_interval", "cron", "cron_schedule"}
SCHEDULE_CALLS = re.compile(
    r"\.(?:ScheduleDefinition|CronSchedule|schedule|every|add_job|Schedule|CronTrigger)$"
)
CRONTAB_LINE = re.compile(r"^\s*(?:[\d*/,-]+\s+){4}[\d*/,-]+\s+\S")


def _trains(command: str) -> str | None:
    """A part of a command that trains; one that runs tests does not (tests/test_train.py)."""
    for segment in segments(command):
        if TRAINS.search(segment) and not runs_tests(segment) and program(segment)[0] != "echo":
            return segment
    return None


def _scheduled(call: Call) -> bool:
    if SCHEDULE_KEYWORDS & set(call.keywords):
        return True
    return call.name.split(".")[0] in SCHEDULERS and bool(
        "schedule" in call.keywords or SCHEDULE_CALLS.search(call.name)
    )


def _code_trains(source: Source) -> bool:
    python = source.python
    assert python is not None
    return any(
        re.search(r"(?:^|_)(?:re)?train|^fit$", call.last, re.I)
        or any(_trains(s) for s in call.strings)
        for call in python.calls
    )


def check_retraining(project: Project) -> Evidence | None:
    """Retraining trigger.

    Accepts: a CI pipeline run by a schedule or an outside event (GitHub `schedule:` or
    `repository_dispatch`, GitLab scheduled pipelines, Azure `schedules:`, CircleCI scheduled
    workflows, Jenkins `cron`) with a step that trains (`python train.py`, `dvc repro`,
    `make retrain`); a Kubernetes CronJob or Argo CronWorkflow that trains; a crontab line that
    trains; an Airflow/Prefect/Dagster/APScheduler schedule in code that trains; a /retrain
    route.
    Refuses: a scheduled job that only tests (`pytest tests/test_train.py`), a threshold
    policy that nothing runs, a profiler's `schedule=`.
    """
    for pipeline in project.pipelines:
        for job, step in pipeline.steps(pipeline.source.from_top):
            if not (pipeline.scheduled or pipeline.event or job.scheduled):
                continue
            if found := _trains(step.command):
                return (_step_hit(pipeline, step, found),)
    for source in project.repo.yaml():
        for document in source.documents:
            if not isinstance(document, Map) or document.get("kind") not in (
                "CronJob",
                "CronWorkflow",
                "ScheduledWorkflow",
            ):
                continue
            for scalar in _scalars(document):
                if _trains(scalar):
                    return (
                        source.hit(document.line, f"a {document['kind']} that trains: {scalar}"),
                    )
    for source in project.repo.text():
        if source.name == "crontab" and (hit := source.find(CRONTAB_LINE)) and _trains(hit.matched):
            return (hit,)
    for source in project.code():
        assert source.python is not None
        if _code_trains(source):
            for call in source.python.calls:
                if _scheduled(call):
                    return (source.hit(call.line),)
    for source in project.code():
        assert source.python is not None
        for definition in source.python.definitions:
            if any(re.match(r"^/(?:[\w-]+/)*retrain", r) for r in definition.routes):
                return (source.hit(definition.line - 1 or definition.line),)
    return None


def near_retraining(project: Project) -> str | None:
    for source in _preferring(project.code(), "retrain"):
        python = source.python
        assert python is not None
        for comparison in python.comparisons:
            names = " ".join(comparison.left | comparison.right).lower()
            if "retrain" in comparison.function.lower() and re.search(
                r"drift|threshold|error|rmse|mae|accuracy", names
            ):
                where = source.where(comparison.line)
                return f"{where} retrains on a threshold, but no schedule or event runs it"
    for pipeline in project.pipelines:
        if pipeline.scheduled:
            where = pipeline.source.where(pipeline.scheduled)
            return f"{where} runs on a schedule, but does not train"
    return None


# The words without which a Python file can show no evidence for any criterion (nor come
# close): a file with none of them is not parsed. Keep it a superset of what the checks read.
EVIDENCE_WORDS = re.compile(
    "|".join(
        [
            *ML_LIBRARIES,
            *TRACKERS[:-1],
            r"\baim\b",
            "comet",
            "report_to",
            *(m.split(".")[-1] for m in MONITORS),
            "prometheus",
            "drift",
            "DataCaptureConfig",
            r"def\s+test",
            "TestCase",
            "azureml",
            r"azure\.ai\.ml",
            "zenml",
            "metaflow",
            "regist",
            "models:/",
            "OutputModel",
            r"Model\.",
            "create_or_update",
            "model_version",
            "link_model",
            "model_package",
            "log_model",
            "MetricThreshold",
            "validate_evaluation",
            "validation_thresholds",
            "baseline_model",
            "_alias",
            "transition_model",
            "deploy",
            "update_endpoint",
            r"/(?:predict|score|scoring|invocations|infer)",
            "predlog",
            r"(?:prediction|inference)s?_?log",
            "log_prediction",
            "bentoml",
            r"\bray\b",
            "LitAPI",
            "BasePredictor",
            "kserve",
            "TestClient",
            "test_client",
            "AsyncClient",
            "ASGITransport",
            "add_url_rule",
            "add_api_route",
            r"Route\(",
            "schedul",
            "cron",
            r"\.every\b",
            "add_job",
            r"\bDAG\b",
            r"(?<![a-z])(?:re)?train",
            r"\.fit\b",
        ]
    ),
    re.I,
)


# --- The list -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    """One maturity criterion: met when `check` finds evidence."""

    id: str
    level: int
    name: str
    evidence: str  # what counts, in plain words
    check: Callable[[Project], Evidence | None]
    near: Callable[[Project], str | None] = lambda project: None

    @property
    def refuses(self) -> str:
        """What does not count, from the check's docstring."""
        doc = " ".join((self.check.__doc__ or "").split())
        return doc.partition("Refuses: ")[2]


CRITERIA = (
    Criterion(
        "code", 0, "ML code", "a notebook or Python code (.py, .ipynb)", check_code
    ),
    Criterion(
        "tests", 1, "Unit tests",
        "test functions (pytest or unittest) in tests/, test_*.py, *_test.py or tests.py",
        check_tests,
    ),
    Criterion(
        "ci", 1, "CI runs the tests",
        "a CI step that runs the tests (GitHub Actions, GitLab CI, Azure Pipelines, Jenkins,"
        " CircleCI, Bitbucket Pipelines, Travis, ...)", check_ci, near_ci,
    ),
    Criterion(
        "tracking", 2, "Tracked training runs",
        "code that logs runs to MLflow, W&B, Neptune, Comet, ClearML, DVCLive, Aim or Azure ML",
        check_tracking, near_tracking,
    ),
    Criterion(
        "versioned", 2, "Versioned data and pipeline",
        "a DVC pipeline (dvc.yaml) or DVC-tracked data (*.dvc); Kedro versioned datasets,"
        " a Pachyderm, ZenML or Metaflow pipeline, Azure ML datasets",
        check_versioned, near_versioned,
    ),
    Criterion(
        "registry", 3, "Model registry",
        "code that registers models or addresses them in a registry (MLflow register_model,"
        " aliases or stages, models:/ URIs; W&B link_model; Neptune, SageMaker, Vertex, Azure ML,"
        " ZenML)", check_registry, near_registry,
    ),
    Criterion(
        "gate", 3, "Evaluation gate",
        "code that compares the candidate's metric with the production model's before promoting"
        " it (or MLflow validation thresholds), a DVC gate stage or a CI step that runs a gate",
        check_gate,
    ),
    Criterion(
        "service", 3, "Tested scoring service",
        "a /predict-style route (FastAPI, Flask, BentoML, Ray Serve, ...) and a test that calls it",
        check_service, near_service,
    ),
    Criterion(
        "cd", 3, "Continuous delivery of the model",
        "a CI pipeline that deploys or promotes the model or its service (kubectl/helm/cloud"
        " deploy, a deployment environment, an image pushed with the model's pipeline)",
        check_cd, near_cd,
    ),
    Criterion(
        "monitoring", 4, "Production monitoring",
        "drift or performance monitoring (Evidently, whylogs, NannyML, Alibi Detect, ...),"
        " Prometheus metrics of predictions, or a prediction log that the service writes",
        check_monitoring,
    ),
    Criterion(
        "retraining", 4, "Retraining trigger",
        "a scheduled (cron) or event-triggered job that retrains (CI schedule, CronJob,"
        " Airflow/Prefect/Dagster schedule, a /retrain webhook)", check_retraining,
        near_retraining,
    ),
)  # fmt: skip
