"""Time and peak memory of one STAN-LLaVA chat turn with the tiny random models (CPU by
default): the cost of mmstan's part of a turn (video tower, projector, prompt expansion,
generate) at toy size, not the cost of the real 7B model.

    python tools/analysis/chat_turn_cost.py [--frames 12] [--new-tokens 16] [--device cpu]

Builds :mod:`mmstan.chat.tiny`'s LLaVA (CLIP 56 px, 4 x 32 wide; Llama 2 x 32 wide) with a
random Mug-STAN branch, runs one warm-up turn, then times ``--repeats`` turns of greedy
decoding (``--new-tokens`` tokens, no early stop) and prints the median, the process's
peak resident memory (``ru_maxrss``: the whole process, Python and the imported
libraries included) before and after the timed turns.
"""
from mmstan.utils.quiet import quiet_pkg_resources

quiet_pkg_resources()

import argparse  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (``ru_maxrss``, KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None) -> dict:
    import torch

    from mmstan.chat.llava import STANLLaVA, build_video_tower
    from mmstan.chat.tiny import tiny_llava, tiny_mugstan_state

    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=12, help='frames of the video')
    parser.add_argument('--new-tokens', type=int, default=16, help='tokens generated per turn')
    parser.add_argument('--repeats', type=int, default=3, help='timed turns')
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args(argv)
    llava, tokenizer, processor = tiny_llava()
    llava.generation_config.eos_token_id = None  # decode exactly --new-tokens tokens
    tower = build_video_tower(llava, tiny_mugstan_state(num_frames=args.frames))
    model = STANLLaVA(llava, tower, tokenizer, processor).to(args.device).eval()
    torch.manual_seed(0)
    frames = torch.randint(0, 256, (args.frames, 3, 72, 96), dtype=torch.uint8)
    video = model.preprocess(frames).to(args.device)
    question = 'what happens in the video ?'
    model.chat(video, question, max_new_tokens=args.new_tokens)  # warm-up
    before = peak_rss_mib()
    times = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        model.chat(video, question, max_new_tokens=args.new_tokens)
        if args.device.startswith('cuda'):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = peak_rss_mib()
    result = dict(frames=args.frames, video_tokens=tower.num_tokens(args.frames), new_tokens=args.new_tokens,
                  seconds=statistics.median(times), rss_mib=before, peak_rss_mib=peak,
                  threads=torch.get_num_threads())
    load = ', '.join(f'{x:.1f}' for x in os.getloadavg())
    print(f"tiny STAN-LLaVA chat turn on {args.device} ({result['threads']} threads, load average "
          f"{load}): {args.frames} frames -> {result['video_tokens']} video tokens, {args.new_tokens} new "
          f"tokens: median {result['seconds'] * 1000:.0f} ms of {args.repeats} turns; peak RSS {before:.0f} "
          f'MiB before the timed turns (models built, one warm-up turn), {peak:.0f} MiB after')
    return result


if __name__ == '__main__':
    main()
