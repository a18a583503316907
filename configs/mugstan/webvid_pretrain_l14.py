# Mug-STAN-L/14 post-pretraining (VideoTextRetriever, CLIPSTAN K=4, Mug head, local loss), 12 frames at 224, 64 tokens, global batch 1024 (32 GPUs x 32), WebVid; paper [M] §IV-B recipe (zero-shot results of Mug-STAN-L/14: Table I).
# The B/32 recipe of ./webvid_pretrain.py (AdamW wd 0.001, lr 4e-6 CLIP / 4e-5 STAN, 3
# epochs, cosine) with CLIP ViT-L/14 and what makes L/14 fit (docs/training_at_scale.md):
# - grad_checkpointing: every CLIP block and STAN layer is recomputed in backward, so a
#   frame keeps one [257, 1024] input per layer instead of all its activations;
# - bf16 autocast (no loss scaler), asked for explicitly: 'auto' would pick fp16 on a GPU
#   without native bf16, where an L/14 step is better not run;
# - local_loss: each rank scores its own 32 captions x the 1024 gathered videos and its
#   own 32 videos x the 1024 captions (2 x 32 x 1024 Mug pairs) instead of all 1024 x 1024;
#   loss and gradients are the global loss's (mmstan/models/losses/contrastive.py).
# Per-GPU batch: train_dataloader.batch_size=32 on 32 GPUs gives the paper's 1024. On W
# GPUs, set batch_size=1024 // W to keep 1024 (InfoNCE's negatives are the step's batch,
# so gradient accumulation is not the same thing); if memory only allows a smaller global
# batch, launch with --auto-scale-lr: mmengine rescales the lr by global batch / 1024
# (auto_scale_lr.base_batch_size). Memory per GPU on a real GPU: not measured here.
_base_ = ['./webvid_pretrain.py']

model = dict(clip=dict(arch='ViT-L-14'), backbone=dict(grad_checkpointing=True), local_loss=True)
optim_wrapper = dict(dtype='bf16')
train_dataloader = dict(batch_size=32)
auto_scale_lr = dict(base_batch_size=1024)
