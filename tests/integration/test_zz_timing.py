import os, time, subprocess
from tests.conftest import run_cli, LOOPLINE
from tests.integration.test_remote_local import _setup, _small_files, _forget

def test_t(project, tmp_path):
    T=time.monotonic
    files = {**_small_files(3000), "weights.bin": os.urandom(8 * 1024 * 1024)}
    t=T(); _setup(project, tmp_path, files, "data", "weights.bin"); print("\nsetup/add", T()-t)
    t=T(); r=run_cli("push", cwd=project); print("push", T()-t, r.stdout)
    _forget(project, "data", "weights.bin")
    t=T(); r=run_cli("pull", "-j", "2", cwd=project); print("pull -j2", T()-t)
    _forget(project, "data", "weights.bin")
    t=T(); r=run_cli("pull", cwd=project); print("pull", T()-t)
    t=T(); r=run_cli("status", cwd=project); print("status", T()-t)
