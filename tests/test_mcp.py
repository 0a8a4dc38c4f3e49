"""`dreamcore mcp`: the official SDK's client over stdio against a real server process."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

ROOT = Path(__file__).resolve().parents[1]
TOOLS = {"dream", "dream_journal", "dream_show", "dream_health", "dream_evaluate"}


def write_config(folder: Path) -> Path:
    path = folder / "dreams.toml"
    path.write_text(
        '[store]\nurl = "sqlite:///dreams.db"\n[cycle]\nseed = 11\nstrategy = "light"\n'
        f'[[sources]]\nproject = "weather"\npaths = ["{ROOT / "examples/weather"}"]\n'
        '[plugins.test]\ncases = 4\ntiers = [1]\n'
    )
    return path


async def _session(config: Path, calls):
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "dreamcore", "--config", str(config), "mcp"], cwd=str(config.parent)
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        return await calls(session)


def run_session(config: Path, calls):
    return asyncio.run(asyncio.wait_for(_session(config, calls), timeout=120))


def payload(result) -> dict:
    assert not result.is_error, result.content
    return result.structured_content or json.loads(result.content[0].text)


def error_text(result) -> str:
    assert result.is_error
    return result.content[0].text


def test_tools_are_listed_with_descriptions(tmp_path):
    async def calls(session):
        return (await session.list_tools()).tools

    tools = run_session(write_config(tmp_path), calls)
    assert {tool.name for tool in tools} == TOOLS
    assert all(tool.description for tool in tools)


def test_dream_then_journal_show_and_health(tmp_path):
    async def calls(session):
        summary = payload(await session.call_tool("dream", {"procedure": "dew_point"}))
        pending = payload(await session.call_tool("dream_journal", {"limit": 50}))
        shown = payload(await session.call_tool("dream_show", {"dream_id": pending["dreams"][0]["ref"]}))
        health = payload(await session.call_tool("dream_health", {}))
        return summary, pending, shown, health

    summary, pending, shown, health = run_session(write_config(tmp_path), calls)
    assert summary["status"] == "finished" and summary["stages"]["generate"]["procedures"] == 1
    assert summary["total_dreams"] == len(pending["dreams"]) > 0
    assert {d["base_procedure_name"] for d in pending["dreams"]} == {"dew_point"}
    assert all(d["status"] != "pending_evaluation" and "code" not in d for d in pending["dreams"])
    assert shown["diff"].startswith("--- weather.") and shown["dream"]["code"]
    assert health["statistics"]["total_dreams"] == summary["total_dreams"]
    assert health["runs"][0]["status"] == "finished"


def test_dream_evaluate_applies_text_and_json_answers(tmp_path):
    config = write_config(tmp_path)

    async def calls(session):
        payload(await session.call_tool("dream", {"procedure": "wind_chill", "stages": ["mine", "generate"]}))
        pending = payload(await session.call_tool("dream_journal", {"status": "pending"}))["dreams"]
        first, second = pending[0]["ref"], pending[1]["ref"]
        text = f"{first}: Viability 0.85, Tier 1. Clean change.\nDream 999999: Viability 0.2, Tier 3. Gone."
        as_text = payload(await session.call_tool("dream_evaluate", {"text": text}))
        as_json = payload(await session.call_tool("dream_evaluate", {"text": json.dumps(
            [{"id": second, "score": "40%", "reasoning": "risky"}])}))
        again = payload(await session.call_tool("dream_evaluate", {"text": text}))
        shown = payload(await session.call_tool("dream_show", {"dream_id": first}))
        return first, second, as_text, as_json, again, shown

    first, second, as_text, as_json, again, shown = run_session(config, calls)
    assert [(a["dream"], a["viability_score"], a["tier"]) for a in as_text["applied"]] == [(int(first[2:]), 0.85, 1)]
    assert [u["id"] for u in as_text["unmatched"]] == ["Dream 999999"]
    assert [(a["dream"], a["viability_score"], a["tier"]) for a in as_json["applied"]] == [(int(second[2:]), 0.4, 2)]
    assert again["applied"] == [] and again["unchanged"] == [int(first[2:])]
    assert shown["dream"]["status"] == "evaluated" and shown["dream"]["claude_reasoning"].startswith("[mcp]")


@pytest.mark.parametrize(
    "tool, arguments, message",
    [
        ("dream_show", {"dream_id": "D-999"}, "no dream with id 999"),
        ("dream_show", {"dream_id": "yesterday"}, "not a dream id"),
        ("dream_journal", {"status": "dreaming"}, "unknown status 'dreaming'"),
        ("dream_journal", {"tier": 7}, "tier must be 1, 2 or 3"),
        ("dream_journal", {"limit": 0}, "limit must be between 1 and 500"),
        ("dream", {"procedure": "no_such_function"}, "no procedure named 'no_such_function'"),
        ("dream", {"strategy": "nightmare"}, "unknown strategy 'nightmare'"),
        ("dream", {"stages": ["dream-harder"]}, "unknown stage 'dream-harder'"),
    ],
)
def test_bad_arguments_are_clear_tool_errors_and_the_server_goes_on(tmp_path, tool, arguments, message):
    async def calls(session):
        failed = await session.call_tool(tool, arguments)
        after = await session.call_tool("dream_journal", {})
        return failed, after

    failed, after = run_session(write_config(tmp_path), calls)
    assert message in error_text(failed)
    assert "Traceback" not in error_text(failed)
    assert payload(after)["dreams"] == []


def test_a_bad_config_fails_the_server_start_with_one_line(tmp_path):
    import subprocess

    config = tmp_path / "dreams.toml"
    config.write_text("[store]\nurl = 3\n")
    done = subprocess.run(
        [sys.executable, "-m", "dreamcore", "--config", str(config), "mcp"],
        capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {config}: store.url: expected a string, got an integer"]
