"""Skip missing, corrupt or unreadable videos instead of crashing a run.

Training: a sample whose video cannot be read is skipped with a warning naming the
file, and mmengine's ``BaseDataset`` fetches another one (it refetches whenever
``prepare_data`` returns None). Testing cannot refetch (every sample is scored), so
test-mode datasets open each video once when they load and drop the unreadable ones,
with a warning naming each.
"""
import logging
from typing import List, Optional

from decord._ffi.base import DECORDError
from mmengine.logging import print_log
from mmengine.utils import ProgressBar

from mmstan.errors import UserError
from mmstan.utils.paths import require_file

#: Errors that mean "this video cannot be read", as opposed to a bug (decord raises a
#: plain RuntimeError "Error reading <file>..." when it cannot open a file).
READ_ERRORS = (OSError, DECORDError, RuntimeError)


def is_read_error(err: BaseException) -> bool:
    if isinstance(err, RuntimeError) and not isinstance(err, DECORDError):
        return str(err).startswith('Error reading')
    return isinstance(err, READ_ERRORS)


def video_is_readable(path: str) -> bool:
    """True if decord can open ``path`` and it has at least one frame."""
    import decord

    try:
        return len(decord.VideoReader(path, num_threads=1)) > 0
    except READ_ERRORS as err:
        if is_read_error(err):
            return False
        raise


class UnreadableVideosMixin:
    """Mix into an mmengine ``BaseDataset`` whose samples carry ``filename``.

    Args (for the mixed class):
        check_videos: open every video at load time and drop unreadable ones. Defaults
            to ``test_mode`` (tests cannot refetch; training skips lazily).
    """

    def __init__(self, *args, check_videos: Optional[bool] = None, **kwargs):
        self.check_videos = check_videos
        super().__init__(*args, **kwargs)

    def check_ann_file(self) -> None:
        """Raise a :class:`UserError` when the annotation is missing."""
        require_file(self.ann_file, 'annotation file',
                     'prepare the dataset (README "Datasets") or fix `ann_file` in the config')

    def is_readable(self, info: dict) -> bool:
        """Whether the video of sample ``info`` can be opened (see :func:`video_is_readable`)."""
        return video_is_readable(info['filename'])

    def load_data_list(self) -> List[dict]:
        self.check_ann_file()
        data_list = super().load_data_list()
        check = self.test_mode if self.check_videos is None else self.check_videos
        return self._drop_unreadable(data_list) if check else data_list

    def _drop_unreadable(self, data_list: List[dict]) -> List[dict]:
        kept = []
        progress = ProgressBar(len(data_list)) if len(data_list) >= 200 else None
        for info in data_list:
            if self.is_readable(info):
                kept.append(info)
            else:
                print_log(f'skipping unreadable video {info["filename"]} (missing or corrupt)',
                          logger='current', level=logging.WARNING)
            if progress is not None:
                progress.update()
        if not kept and data_list:
            raise UserError(f'no readable video among the {len(data_list)} listed in '
                            f'{self.ann_file}; check `data_prefix`/`data_root` in the config')
        return kept

    def prepare_data(self, idx: int):
        try:
            return super().prepare_data(idx)
        except READ_ERRORS as err:
            if not is_read_error(err):
                raise
            filename = self.get_data_info(idx).get('filename', f'sample {idx}')
            if self.test_mode:
                raise UserError(f'cannot read video {filename} ({err}); remove it from '
                                f'{self.ann_file}') from err
            print_log(f'skipping unreadable video {filename}: {type(err).__name__}: {err}',
                      logger='current', level=logging.WARNING)
            return None
