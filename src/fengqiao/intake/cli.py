"""Intake commands for the `fengqiao` command line: sources and mappings, order and ledger files, reindex."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from fengqiao.db import Database
from fengqiao.errors import FengqiaoError


def register_commands(main: click.Group, data_options: Callable[[Any], Any], make_db: Callable[[click.Context], Database],
                      fail: Callable[[FengqiaoError], None]) -> None:
    """Add the intake commands to the main group (the helpers come from fengqiao.cli)."""

    def _json(path: Path | None) -> dict[str, Any] | None:
        if path is None:
            return None
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise FengqiaoError(f"{path.name} 不是有效的 JSON：{exc}", "mapping") from None
        if not isinstance(value, dict):
            raise FengqiaoError(f"{path.name} 应为 JSON 对象", "mapping")
        return value

    @main.command("intake-source")
    @data_options
    @click.argument("code")
    @click.option("--name", required=True, help="来源名称，如 周口市12345热线")
    @click.option("--channel", required=True, type=click.Choice(["hotline", "police", "petition", "open311"]))
    @click.option("--mapping", "mapping_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  default=None, help="字段映射 JSON：{\"fields\": {\"source_id\": \"工单编号\", ...}}")
    @click.option("--feedback/--no-feedback", default=True, help="是否向该来源回传办理状态")
    @click.option("--rotate-token", is_flag=True, help="更换接入令牌")
    @click.pass_context
    def intake_source(ctx: click.Context, code: str, name: str, channel: str, mapping_path: Path | None,
                      feedback: bool, rotate_token: bool) -> None:
        """登记或更新来源系统（12345、110、信访、Open311）及其字段映射。"""
        from fengqiao.intake.channels.hotline import rotate_token as rotate, save_source

        try:
            with make_db(ctx).unit_of_work() as session:
                source, token = save_source(session, code, name, channel, _json(mapping_path) or {}, feedback)
                if rotate_token and token is None:
                    token = rotate(session, code)
            click.echo(f"来源 {source.code}（{source.name}）已保存")
            if token:
                click.echo(f"接入令牌（只显示一次）：{token}")
        except FengqiaoError as exc:
            fail(exc)

    @main.command("import-orders")
    @data_options
    @click.argument("code")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="只校验和预览，不导入")
    @click.pass_context
    def import_orders(ctx: click.Context, code: str, path: Path, dry_run: bool) -> None:
        """按来源的字段映射批量导入工单（CSV 或 .xlsx）；有错误行则整批不导入。"""
        from fengqiao.intake.channels.hotline import import_orders as run

        try:
            result = run(make_db(ctx), code, path.read_bytes(), path.name, dry_run)
        except FengqiaoError as exc:
            fail(exc)
            return
        if dry_run:
            click.echo(f"校验通过：{result['rows']} 行，新工单 {result['new']}，已导入过 {result['already_imported']}")
        else:
            click.echo(f"已导入 {result['rows']} 行：新登记 {result['created']}，并入已有事项 {result['linked']}，"
                       f"此前已导入 {result['already_imported']}")

    @main.command("import-ledger")
    @data_options
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--mapping", "mapping_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                  default=None, help="列映射 JSON：{\"name\": \"事件名称\", ...}；不填则按列名自动识别")
    @click.option("--dry-run", is_flag=True, help="只预览与校验，不导入")
    @click.pass_context
    def import_ledger(ctx: click.Context, path: Path, mapping_path: Path | None, dry_run: bool) -> None:
        """导入矛盾纠纷台账（.xlsx 或 CSV）：全部行无误才导入；未化解的行登记为事项。"""
        from fengqiao.intake import ledger
        from fengqiao.intake.service import system_principal

        try:
            mapping = _json(mapping_path)
            with make_db(ctx).unit_of_work() as session:
                if dry_run:
                    p = ledger.preview(session, path.read_bytes(), path.name, mapping)  # type: ignore[arg-type]
                    click.echo("列映射：" + "，".join(f"{ledger.LABELS[k]}←{v}" for k, v in p["mapping"].items()))
                    click.echo(f"{p['rows']} 行：将登记事项 {p['to_cases']}，历史台账 {p['history']}，"
                               f"已导入过 {len(p['already_imported'])}，错误 {len(p['errors'])} 处")
                    for e in p["errors"][:200]:
                        click.echo(f"  第 {e['row']} 行 {e['column']}：{e['message']}")
                    return
                result = ledger.import_ledger(session, system_principal(session), path.read_bytes(), path.name,
                                              mapping)  # type: ignore[arg-type]
            click.echo(f"已导入台账 {result['imported']} 行：登记事项 {result['cases']}，历史台账 {result['history']}，"
                       f"已导入过 {result['already_imported']}")
        except FengqiaoError as exc:
            fail(exc)

    @main.command("export-ledger")
    @data_options
    @click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--state", multiple=True, help="状态，可多次指定（如 registered、closed）")
    @click.option("--kind", default=None)
    @click.option("--region-code", default=None, help="区划代码（含下级）")
    @click.option("--risk", default=None, type=click.Choice(["高", "中", "低"]))
    @click.pass_context
    def export_ledger(ctx: click.Context, out: Path, state: tuple[str, ...], kind: str | None,
                      region_code: str | None, risk: str | None) -> None:
        """按条件导出事项为矛盾纠纷台账（.xlsx，标准列）。"""
        from sqlalchemy import select

        from fengqiao.cases.queries import CaseFilter
        from fengqiao.intake.ledger import export_xlsx
        from fengqiao.intake.service import system_principal
        from fengqiao.org.models import Region

        try:
            with make_db(ctx).read() as session:
                region_id = None
                if region_code:
                    region_id = session.scalar(select(Region.id).where(Region.code == region_code))
                    if region_id is None:
                        raise FengqiaoError(f"区划代码 {region_code} 不存在", "region-code")
                data = export_xlsx(session, system_principal(session),
                                   CaseFilter(list(state) or None, kind, region_id, None, None, risk, None))
            out.write_bytes(data)
            click.echo(f"已导出到 {out}")
        except FengqiaoError as exc:
            fail(exc)

    @main.command("intake-reindex")
    @data_options
    @click.pass_context
    def intake_reindex(ctx: click.Context) -> None:
        """为没有查重索引的事项补建索引（如批量写库绕过了登记流程）。"""
        from fengqiao.intake.dedup import reindex_missing

        with make_db(ctx).unit_of_work() as session:
            click.echo(f"已补建 {reindex_missing(session)} 个事项的查重索引")
