"""demo/demo_video_chat.py end to end on files (a tiny LLaVA saved as an HF directory, a
tiny Mug-STAN checkpoint, a synthetic video), and its one-line errors for missing files
(offline and without transformers: tests/chat/test_optional_dependency.py)."""
import numpy as np
import pytest
import torch

pytest.importorskip('transformers')

from conftest import load_script  # noqa: E402
from mmstan.chat.tiny import tiny_llava, tiny_mugstan_state  # noqa: E402
from mmstan.datasets.synthetic import make_clip, write_video  # noqa: E402

DEMO = 'demo/demo_video_chat.py'


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    out = tmp_path_factory.mktemp('chat')
    llava, tokenizer, processor = tiny_llava()
    for part in (llava, tokenizer, processor):
        part.save_pretrained(str(out / 'llava'))
    torch.save({'state_dict': tiny_mugstan_state(num_frames=4)}, str(out / 'mugstan.pth'))
    clip, _, _ = make_clip(np.random.default_rng(0), label=0, size=64, frames=8, noise=5.0)
    write_video(str(out / 'clip.mp4'), clip)
    return out


def test_demo_answers_from_saved_files(files, capsys):
    demo = load_script(DEMO)
    demo.main([str(files / 'clip.mp4'), 'what happens in the video ?', '--llava', str(files / 'llava'),
               '--checkpoint', str(files / 'mugstan.pth'), '--frames', '4', '--max-new-tokens', '3'])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith('video tokens: 4 frames -> 16 (4 per 1 frame(s)); branch on;')
    assert out[1] == 'USER: what happens in the video ?' and out[2].startswith('ASSISTANT:')


def test_demo_options_override_the_config(files, capsys):
    demo = load_script(DEMO)
    base = [str(files / 'clip.mp4'), 'what ?', '--llava', str(files / 'llava'), '--frames', '4',
            '--max-new-tokens', '1']
    demo.main(base + ['--no-branch', '--spatial-pool', '1'])  # LLaVA alone: no checkpoint needed
    demo.main(base + ['--checkpoint', str(files / 'mugstan.pth'), '--temporal-pool', '2'])
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith('video tokens')]
    assert lines[0].startswith('video tokens: 4 frames -> 64 (16 per 1 frame(s)); branch off;')
    assert lines[1].startswith('video tokens: 4 frames -> 8 (4 per 2 frame(s)); branch on;')


def test_missing_local_llava_and_missing_checkpoint_are_one_line_errors(files, capsys):
    demo = load_script(DEMO)
    video = str(files / 'clip.mp4')
    cases = [
        (['--llava', str(files / 'nowhere'), '--checkpoint', str(files / 'mugstan.pth')],
         f'error: LLaVA model directory not found: {files / "nowhere"}; give a local copy'),
        (['--llava', str(files / 'llava'), '--checkpoint', str(files / 'none.pth')],
         f'error: Mug-STAN checkpoint not found: {files / "none.pth"}'),
        (['--llava', str(files / 'llava')], 'error: --checkpoint: give the Mug-STAN checkpoint'),
    ]
    for args, expected in cases:
        with pytest.raises(SystemExit) as exit_:
            demo.main([video, 'what ?', '--frames', '4', *args])
        err = capsys.readouterr().err.strip().splitlines()
        assert exit_.value.code == 1 and len(err) == 1 and err[0].startswith(expected), err
