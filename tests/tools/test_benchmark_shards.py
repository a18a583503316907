"""tools/analysis/benchmark_shards.py: both sides decode the same clips, and the figures
it prints are the ones the library measured."""
from conftest import load_script


def test_benchmark_shards_prints_both_sides_and_the_index_time(tmp_path, capsys):
    r = load_script('tools/analysis/benchmark_shards.py').main(
        ['--videos', '6', '--size', '32', '--frames', '4', '--samples-per-shard', '4', '--rounds', '1',
         '--index-samples', '50', '--out', str(tmp_path)])
    out = capsys.readouterr().out
    assert r['shards'] == 2 and r['files_clips_per_s'] > 0 and r['shards_clips_per_s'] > 0
    assert f'{r["ratio"]:.2f}' in out and 'clips/s' in out and 'per 1000 samples' in out
    assert f'{r["bytes_per_sample"]:.0f} bytes per sample' in out and r['load_s_per_1000'] > 0
    assert r['ratio'] == r['shards_clips_per_s'] / r['files_clips_per_s']
