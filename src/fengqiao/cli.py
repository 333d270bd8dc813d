"""The `fengqiao` command line: set-up, imports, users, server, worker, demo, OpenAPI."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path

import click

from fengqiao.db import Database
from fengqiao.errors import FengqiaoError
from fengqiao.settings import Settings, SettingsError, load_settings


def _settings(ctx: click.Context) -> Settings:
    return ctx.obj["settings"]  # type: ignore[no-any-return]


def data_options(fn):  # type: ignore[no-untyped-def]
    """Let every command take --data-dir and --database-url after its name too."""

    def _set(field: str):  # type: ignore[no-untyped-def]
        def callback(ctx: click.Context, _param: click.Parameter, value: object) -> None:
            if value is not None:
                root = ctx.find_root()
                root.obj["settings"] = root.obj["settings"].with_overrides(**{field: value})
        return callback

    fn = click.option("--data-dir", type=click.Path(path_type=Path), default=None, expose_value=False,
                      callback=_set("data_dir"), help="数据目录")(fn)
    return click.option("--database-url", default=None, expose_value=False, callback=_set("database_url"),
                        help="数据库地址（默认数据目录中的 SQLite）")(fn)


def _db(ctx: click.Context) -> Database:
    return Database(_settings(ctx).effective_database_url)


def _fail(exc: FengqiaoError) -> None:
    click.echo(f"错误：{exc.message}" + (f"（字段：{exc.field}）" if exc.field else ""), err=True)
    for d in exc.details[:200]:
        where = "，".join(f"{k}={v}" for k, v in d.items() if k != "message")
        click.echo(f"  {where}：{d.get('message')}", err=True)
    sys.exit(2)


@click.group()
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="数据目录（默认 ./data 或 FENGQIAO_DATA_DIR）")
@click.option("--database-url", default=None, help="数据库地址，如 postgresql+psycopg://user@host/db（默认 SQLite）")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, database_url: str | None) -> None:
    """枫桥 fengqiao：县级综治中心平台。"""
    ctx.obj = {"settings": load_settings(data_dir=data_dir, database_url=database_url)}
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@main.command()
@data_options
@click.pass_context
def init(ctx: click.Context) -> None:
    """建库或升级数据库结构，写入节假日日历与默认时限策略（可重复执行）。"""
    from fengqiao.bootstrap import init_database

    settings = _settings(ctx)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    years = init_database(_db(ctx))
    click.echo(f"数据库已就绪：{settings.effective_database_url}")
    if years:
        click.echo(f"已写入节假日安排：{years[0]}–{years[-1]} 年")


def _import(ctx: click.Context, fn, path: Path, *args) -> int:  # type: ignore[no-untyped-def]
    db = _db(ctx)
    try:
        with db.unit_of_work() as session:
            return fn(session, *args, path.read_bytes()) if args else fn(session, path.read_bytes())
    except FengqiaoError as exc:
        _fail(exc)
        return 0


@main.command("import-regions")
@data_options
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_regions(ctx: click.Context, path: Path) -> None:
    """导入区划与网格边界（GeoJSON FeatureCollection）。"""
    from fengqiao.org.service import import_regions_geojson

    click.echo(f"已导入 {_import(ctx, import_regions_geojson, path)} 个区划/网格")


@main.command("import-departments")
@data_options
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_departments(ctx: click.Context, path: Path) -> None:
    """导入职能部门（CSV：code,name,presence）。"""
    from fengqiao.org.service import import_departments_csv

    click.echo(f"已导入 {_import(ctx, import_departments_csv, path)} 个部门")


@main.command("import-list")
@data_options
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_list(ctx: click.Context, path: Path) -> None:
    """导入确权清单（CSV 或 .xlsx），生成新版本。"""
    from fengqiao.catalog.service import import_catalog

    db = _db(ctx)
    try:
        with db.unit_of_work() as session:
            version = import_catalog(session, path.read_bytes(), path.name)
            click.echo(f"已导入确权清单第 {version.number} 版，共 {version.item_count} 项")
    except FengqiaoError as exc:
        _fail(exc)


@main.command("import-calendar")
@data_options
@click.argument("year", type=int)
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def import_calendar(ctx: click.Context, year: int, path: Path) -> None:
    """录入某年节假日与调休（CSV：date,type,name；type 为 休 或 班）。"""
    from fengqiao.workcal.service import import_year_csv

    click.echo(f"已录入 {year} 年 {_import(ctx, import_year_csv, path, year)} 个特殊日期")


@main.command("create-user")
@data_options
@click.option("--username", required=True)
@click.option("--password", required=True)
@click.option("--name", "display_name", required=True, help="姓名")
@click.option("--role", required=True, type=click.Choice(["admin", "operator", "handler", "grid_worker", "mediator",
                                                           "supervisor", "leader"]))
@click.option("--region-code", default=None, help="所属区划代码（默认县）")
@click.option("--department-code", default=None, help="所属部门代码（部门办理人必填）")
@click.pass_context
def create_user_cmd(ctx: click.Context, username: str, password: str, display_name: str, role: str,
                    region_code: str | None, department_code: str | None) -> None:
    """创建用户。"""
    from sqlalchemy import select

    from fengqiao.auth.service import create_user
    from fengqiao.org.models import Department, Region
    from fengqiao.org.service import county

    try:
        with _db(ctx).unit_of_work() as session:
            region = (session.scalar(select(Region).where(Region.code == region_code)) if region_code
                      else county(session))
            if region is None:
                raise FengqiaoError(f"区划代码 {region_code} 不存在", "region-code")
            dept = None
            if department_code:
                dept = session.scalar(select(Department).where(Department.code == department_code))
                if dept is None:
                    raise FengqiaoError(f"部门代码 {department_code} 不存在", "department-code")
            user = create_user(session, username=username, password=password, display_name=display_name, role=role,
                               region_id=region.id, department_id=dept.id if dept else None)
            click.echo(f"已创建用户 {user.username}（{role}）")
    except FengqiaoError as exc:
        _fail(exc)


def _require_schema(db: Database) -> None:
    from fengqiao.migrate import pending

    problem = pending(db)
    if problem:
        click.echo(f"错误：{problem}（{db.url}）", err=True)
        sys.exit(2)


def _serve(settings: Settings, with_worker: bool) -> None:
    import uvicorn

    from fengqiao.app import create_app
    from fengqiao.supervision.worker import start_in_process

    try:
        settings.check()
    except SettingsError as exc:
        click.echo(f"错误：{exc}", err=True)
        sys.exit(2)
    app = create_app(settings)
    _require_schema(app.state.db)
    stop = None
    if with_worker:
        _, stop = start_in_process(app.state.db, settings.worker_interval_seconds)
    try:
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
    finally:
        if stop is not None:
            stop.set()


@main.command()
@data_options
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--with-worker/--no-worker", default=False, help="在同一进程内运行督办任务")
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, with_worker: bool) -> None:
    """启动 HTTP 服务（API 与 /docs 接口文档）。"""
    _serve(_settings(ctx).with_overrides(host=host, port=port), with_worker)


@main.command()
@data_options
@click.option("--interval", default=None, type=float, help="扫描间隔（秒），默认 30")
@click.option("--once", is_flag=True, help="只扫描一次后退出")
@click.pass_context
def worker(ctx: click.Context, interval: float | None, once: bool) -> None:
    """运行督办任务：发现预警和超期环节，记录提醒、催办、督办、约谈、移交。"""
    from fengqiao.supervision.service import scan_once
    from fengqiao.supervision.worker import run_worker

    db = _db(ctx)
    _require_schema(db)
    if once:
        result = scan_once(db)
        click.echo(f"检查 {result.examined} 个环节，新增 {result.actions} 条督办")
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    run_worker(db, interval or _settings(ctx).worker_interval_seconds, stop)


@main.command()
@data_options
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--cases", default=4000, show_default=True, type=int, help="演示事项数量")
@click.option("--no-serve", is_flag=True, help="只生成演示数据，不启动服务")
@click.pass_context
def demo(ctx: click.Context, port: int, host: str, cases: int, no_serve: bool) -> None:
    """生成并启动演示县（扶沟县）：区划网格、部门、确权清单、各角色用户和一年的事项。"""
    from fengqiao.bootstrap import init_database
    from fengqiao.demo.generate import DEMO_PASSWORD, build_demo, demo_users

    settings = _settings(ctx).with_overrides(demo=True, host=host, port=port, worker_interval_seconds=10.0)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.effective_database_url)
    init_database(db)
    created = build_demo(db, cases=cases,
                         progress=lambda done, total: click.echo(f"\r生成演示事项 {done}/{total}", nl=done == total))
    click.echo("演示县已生成" if created else "演示数据已存在，直接启动")
    click.echo(f"数据目录：{settings.data_dir.resolve()}")
    click.echo(f"演示账号（密码均为 {DEMO_PASSWORD}）：")
    for username, label in demo_users():
        click.echo(f"  {username:<16} {label}")
    if no_serve:
        return
    click.echo(f"打开 http://{host}:{port}/ 登录各岗位界面；接口文档在 http://{host}:{port}/docs")
    db.dispose()
    _serve(settings, with_worker=True)


@main.command()
def openapi() -> None:
    """打印 OpenAPI 文档（JSON）。"""
    from fengqiao.app import create_app

    app = create_app(load_settings(demo=True, database_url="sqlite://"))
    click.echo(json.dumps(app.openapi(), ensure_ascii=False, indent=2))


from fengqiao.intake.cli import register_commands as _intake_commands  # noqa: E402

_intake_commands(main, data_options, _db, _fail)


def _register_subgroups() -> None:
    from fengqiao.triage.cli import triage

    main.add_command(triage)


_register_subgroups()

if __name__ == "__main__":
    main()
