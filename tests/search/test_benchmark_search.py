"""tools/analysis/benchmark_search.py runs and prints measured times (small sizes)."""
import re

from conftest import load_script


def test_benchmark_prints_stage_times(tmp_path, capsys):
    tool = load_script('tools/analysis/benchmark_search.py')
    result = tool.main(['--videos', '300', '--frames', '4', '--dim', '32', '--tokens', '8',
                        '--rerank', '20', '--queries', '5', '--exact-queries', '2',
                        '--text-arch', 'none', '--out', str(tmp_path)])
    out = capsys.readouterr().out
    assert re.search(r'stage 1 [0-9.]+ ms \+ stage 2 \(Mug on 20\) [0-9.]+ ms = [0-9.]+ ms', out), out
    assert all(result[k] > 0 for k in ('stage_one_ms', 'stage_two_ms', 'exact_ms'))
    from mmstan.search import VideoIndex
    assert len(VideoIndex.open(str(tmp_path))) == 300  # written by the real index code
