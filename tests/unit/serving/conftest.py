"""Small real models, saved as MLflow-format folders, for the serving tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

COLUMNS = ["tenure", "monthly", "support_calls", "age"]


@pytest.fixture(scope="session")
def churn_frame() -> tuple:
    import pandas as pd

    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(300, 4)), columns=COLUMNS)
    labels = (frame.support_calls - frame.tenure + rng.normal(scale=0.3, size=300) > 0).astype(int)
    return frame, labels


@pytest.fixture(scope="session")
def churn_model_dir(tmp_path_factory: pytest.TempPathFactory, churn_frame: tuple) -> Path:
    from sklearn.linear_model import LogisticRegression

    from loopline.models.sklearn import save_model

    frame, labels = churn_frame
    folder = tmp_path_factory.mktemp("models") / "churn"
    save_model(LogisticRegression().fit(frame, labels), folder, input_example=frame.head(3))
    return folder


@pytest.fixture(scope="session")
def mixed_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model with a string column (one-hot encoded) beside numbers."""
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from loopline.models.sklearn import save_model

    frame = pd.DataFrame(
        {"plan": ["basic", "pro", "basic", "pro"] * 10, "monthly": np.linspace(10, 90, 40)}
    )
    labels = (frame.plan == "pro").astype(int)
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["plan"]), remainder="passthrough"
        ),
        LogisticRegression(),
    ).fit(frame, labels)
    folder = tmp_path_factory.mktemp("models") / "mixed"
    save_model(model, folder, input_example=frame.head(2))
    return folder


@pytest.fixture(scope="session")
def churn_model(churn_model_dir: Path):  # type: ignore[no-untyped-def]
    from loopline.serving.model import load_served_model

    return load_served_model("churn", "1", str(churn_model_dir), churn_model_dir)


@pytest.fixture(scope="session")
def mixed_model(mixed_model_dir: Path):  # type: ignore[no-untyped-def]
    from loopline.serving.model import load_served_model

    return load_served_model("mixed", "1", str(mixed_model_dir), mixed_model_dir)


@pytest.fixture(scope="session")
def hgb_model_dir(tmp_path_factory: pytest.TempPathFactory, churn_frame: tuple) -> Path:
    """A model that handles missing values itself (HistGradientBoosting)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from loopline.models.sklearn import save_model

    frame, labels = churn_frame
    folder = tmp_path_factory.mktemp("models") / "hgb"
    model = HistGradientBoostingClassifier(max_iter=5).fit(frame, labels)
    save_model(model, folder, input_example=frame.head(3))
    return folder


@pytest.fixture(scope="session")
def typed_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Columns of three kinds: a whole number (long), text (string) and a double."""
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    from loopline.models.sklearn import save_model

    rng = np.random.default_rng(3)
    frame = pd.DataFrame(
        {
            "rooms": rng.integers(1, 6, 40).astype("int64"),
            "plan": ["basic", "pro"] * 20,
            "monthly": rng.normal(size=40),
        }
    )
    labels = (frame.rooms > 2).astype(int)
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["plan"]), remainder="passthrough"
        ),
        LogisticRegression(),
    ).fit(frame, labels)
    folder = tmp_path_factory.mktemp("models") / "typed"
    save_model(model, folder, input_example=frame.head(2))
    return folder


@pytest.fixture(scope="session")
def counts_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """All-numeric columns with a whole number: ``visits`` (long) beside ``monthly`` (double)."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from loopline.models.sklearn import save_model

    rng = np.random.default_rng(5)
    frame = pd.DataFrame(
        {"visits": rng.integers(0, 50, 60).astype("int64"), "monthly": rng.normal(size=60)}
    )
    labels = (frame.visits > 25).astype(int)
    folder = tmp_path_factory.mktemp("models") / "counts"
    save_model(LogisticRegression().fit(frame, labels), folder, input_example=frame.head(2))
    return folder
