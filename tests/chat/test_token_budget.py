"""The token budget table and the chat-turn cost script."""
import pytest

from conftest import load_script


def test_budget_table_counts_llava15_tokens_per_frame_and_the_context_left(capsys):
    budget = load_script('tools/analysis/chat_token_budget.py')
    rows = budget.main(['--frames', '8', '12', '--pools', '1', '2'])
    first = capsys.readouterr().out.splitlines()[0]
    # the default config: 12 frames of a 24x24 grid pooled 2x2 -> 12 * 12 * 12 tokens
    assert first.endswith(f'-> {12 * 12 * 12} video tokens + 320 text (256 answer + 64 prompt) of 4096')
    assert rows[0] == '| frames | pool 1x1 (576/frame) | pool 2x2 (144/frame) |'
    assert rows[2] == f'| 8 | {8 * 576} (exceeds) | {8 * 144} ({4096 - 8 * 144 - 320} left) |'
    assert rows[3] == f'| 12 | {12 * 576} (exceeds) | {12 * 144} ({4096 - 12 * 144 - 320} left) |'


def test_chat_turn_cost_prints_time_and_peak_memory(capsys):
    pytest.importorskip('transformers')
    result = load_script('tools/analysis/chat_turn_cost.py').main(
        ['--frames', '4', '--new-tokens', '2', '--repeats', '1'])
    out = capsys.readouterr().out
    assert result['video_tokens'] == 16 and result['seconds'] > 0
    assert result['peak_rss_mib'] >= result['rss_mib'] > 0
    assert 'tiny STAN-LLaVA chat turn on cpu' in out and 'MiB after' in out
