"""Fixtures shared by several test modules."""

import os

# one BLAS thread: small least-squares fits run ~50x slower when threads contend on a busy
# machine (set before numpy is first imported)
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")

import warnings  # noqa: E402

import pytest  # noqa: E402
from toy_data import sample_frames, toy_panel  # noqa: E402

import cxkit as cx  # noqa: E402


@pytest.fixture(scope="module")
def panel():
    """The simulated panel of :func:`toy_data.toy_panel` (a module may define its own)."""
    return toy_panel()


@pytest.fixture(scope="session")
def sample():
    """A generated sample (1,500 customers, 12 months) and its monthly panel."""
    data, _ = cx.make_sample(n_customers=1500, months=12, seed=11)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        panel = cx.build_panel(data)
    return data, panel


# -- engines: PostgreSQL on localhost and one local Spark session (see .ci/services) -----------

def _engine_unavailable(reason: str):
    """Skip, or fail when the run must cover every engine (``CXKIT_REQUIRE_ENGINES=1``, CI)."""
    if os.environ.get("CXKIT_REQUIRE_ENGINES") == "1":
        pytest.fail(f"{reason} (CXKIT_REQUIRE_ENGINES=1: run `bash .ci/services` first)",
                    pytrace=False)
    pytest.skip(f"{reason}; run `bash .ci/services` and export CXKIT_TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def postgres_con():
    """An Ibis Postgres backend on the test database, session pinned to UTC."""
    url = os.environ.get("CXKIT_TEST_POSTGRES_URL")
    if not url:
        _engine_unavailable("CXKIT_TEST_POSTGRES_URL is not set")
    from cxkit.config import EngineConfig
    from cxkit.engine import close, connect

    try:
        con = connect(EngineConfig(backend="postgres",
                                   connection="${CXKIT_TEST_POSTGRES_URL}"))
    except cx.CxkitError as exc:
        _engine_unavailable(f"PostgreSQL not reachable: {exc}")
    yield con
    close(con)


@pytest.fixture(scope="session")
def sample_in_postgres(postgres_con):
    """The bundled sample as typed tables of schema ``cxkit_sample`` (replaced each run)."""
    postgres_con.create_database("cxkit_sample", force=True)
    for name, frame in sample_frames().items():
        postgres_con.create_table(name, frame, database="cxkit_sample", overwrite=True)
    return "cxkit_sample"


def _spark_session():
    from pyspark.sql import SparkSession

    return SparkSession.builder.getOrCreate()  # the running one


@pytest.fixture(scope="session")
def spark_con(tmp_path_factory):
    """An Ibis pyspark backend on the one local Spark session of the test run (its managed
    tables in a temporary folder, not ./spark-warehouse)."""
    import shutil

    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _engine_unavailable("no Java runtime for Spark")
    from cxkit.config import EngineConfig
    from cxkit.engine import connect

    try:
        from pyspark.sql import SparkSession

        from cxkit.engine import SPARK_CONF

        builder = SparkSession.builder.master("local[2]").appName("cxkit")
        for key, value in {**SPARK_CONF, "spark.sql.warehouse.dir":
                           str(tmp_path_factory.mktemp("spark-warehouse"))}.items():
            builder = builder.config(key, value)
        builder.getOrCreate()  # made here for its warehouse folder; connect() reuses it
        con = connect(EngineConfig(backend="pyspark"))
    except cx.CxkitError as exc:
        _engine_unavailable(f"Spark did not start: {exc}")
    yield con
    _spark_session().stop()


@pytest.fixture(scope="session")
def sample_in_spark(spark_con):
    """The bundled sample as Spark temporary views ``cxkit_sample_<table>``."""
    for name, frame in sample_frames().items():
        _spark_session().createDataFrame(frame).createOrReplaceTempView(f"cxkit_sample_{name}")
    return "cxkit_sample_"
