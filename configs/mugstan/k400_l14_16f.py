# Mug-STAN-L/14 (CLIPRecognizer: CLIPSTAN K=4 + class-name TextClassHead, Mug scoring), 16 frames, global batch 128 (8 GPUs x 16), Kinetics-400; no paper row (the papers give no L/14 fine-tuned recognition result).
# ./k400.py ([M] §IV-B video-only recipe: lr 8e-6 CLIP / 8e-5 new modules, wd 0.02) with
# CLIP ViT-L/14, 16 frames, every CLIP block and STAN layer recomputed in backward (16
# frames x 16 clips = 256 L/14 frames per GPU) and bf16 autocast. Per-GPU batch 16 on 8
# GPUs gives 128; on W GPUs set train_dataloader.batch_size=128 // W, or launch with
# --auto-scale-lr to rescale the lr by global batch / 128.
_base_ = ['./k400.py']
from mmstan.utils.pipeline_edit import loaders_with_steps_args  # noqa: E402

num_frames = 16
model = dict(clip=dict(arch='ViT-L-14'),
             backbone=dict(num_frames=num_frames, grad_checkpointing=True))
optim_wrapper = dict(dtype='bf16')
train_dataloader, val_dataloader, test_dataloader = loaders_with_steps_args(
    _base_, 'UniformSample', clip_len=num_frames)
