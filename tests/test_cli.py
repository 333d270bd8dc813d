"""The command line as an administrator uses it, and the demo in an empty folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from click.testing import CliRunner

from fengqiao.cli import main
from fengqiao.db import Base, Database
from support import CATALOG_CSV, DEPARTMENTS_CSV, county_geojson


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_migrations_match_the_models(db: Database) -> None:
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_administrator_sets_up_a_county_from_files(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(tmp_path)]
    (tmp_path / "r.geojson").write_text(json.dumps(county_geojson(), ensure_ascii=False), encoding="utf-8")
    (tmp_path / "d.csv").write_text(DEPARTMENTS_CSV, encoding="utf-8")
    (tmp_path / "l.csv").write_text(CATALOG_CSV, encoding="utf-8")
    (tmp_path / "bad.csv").write_text(CATALOG_CSV + "T-009,x,矛盾纠纷,无此部门,县,3日,,\n", encoding="utf-8")
    for args, expect in [
        (["init"], "数据库已就绪"),
        (["import-regions", str(tmp_path / "r.geojson")], "已导入 15 个"),
        (["import-departments", str(tmp_path / "d.csv")], "已导入 4 个部门"),
        (["import-list", str(tmp_path / "l.csv")], "第 1 版，共 5 项"),
        (["create-user", "--username", "op", "--password", "password-123", "--name", "王芳", "--role", "operator",
          "--region-code", "T0"], "已创建用户 op"),
    ]:
        result = runner.invoke(main, base + args)
        assert result.exit_code == 0, result.output
        assert expect in result.output
    result = runner.invoke(main, base + ["import-list", str(tmp_path / "bad.csv")])
    assert result.exit_code == 2
    assert "row=7，column=department：部门“无此部门”不存在" in result.output
    result = runner.invoke(main, base + ["create-user", "--username", "h1", "--password", "password-123", "--name", "x",
                                         "--role", "handler"])
    assert result.exit_code == 2 and "部门" in result.output


def test_openapi_prints_the_document() -> None:
    result = CliRunner().invoke(main, ["openapi"])
    assert result.exit_code == 0
    assert json.loads(result.output)["info"]["title"].startswith("枫桥")


def test_serve_refuses_the_default_secret_outside_demo_mode(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FENGQIAO_")}
    proc = subprocess.run([sys.executable, "-m", "fengqiao.cli", "--data-dir", str(tmp_path), "serve"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2 and "FENGQIAO_SECRET_KEY" in proc.stderr


def test_demo_starts_in_an_empty_folder_on_the_port_given(tmp_path: Path) -> None:
    port = _free_port()
    data = tmp_path / "county"
    proc = subprocess.Popen([sys.executable, "-m", "fengqiao.cli", "demo", "--data-dir", str(data), "--port", str(port),
                             "--cases", "150"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            raise AssertionError("demo did not start")
        token = httpx.post(f"http://127.0.0.1:{port}/api/auth/login",
                           json={"username": "operator", "password": "fengqiao-demo"}).json()["token"]
        page = httpx.get(f"http://127.0.0.1:{port}/api/cases", params={"size": 1},
                         headers={"Authorization": f"Bearer {token}"}).json()
        assert page["total"] == 150
        assert (data / "fengqiao.db").exists()
    finally:
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert "演示账号" in out and "fengqiao-demo" in out


def test_worker_refuses_an_uninitialised_database(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "worker", "--once"])
    assert result.exit_code == 2 and "fengqiao init" in result.output
