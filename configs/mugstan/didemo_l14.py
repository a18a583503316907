# Mug-STAN-L/14 (VideoTextRetriever, CLIPSTAN K=4, Mug head), 64 frames, global batch 128 (16 GPUs x 8), DiDeMo (paragraph queries); no paper row (the papers fine-tune L/14 on no retrieval set; [M] Table I has its zero-shot DiDeMo).
# ./didemo.py ([M] §IV-B retrieval recipe: lr 2e-6 CLIP / 2e-5 STAN, wd 0.02) with CLIP
# ViT-L/14: every CLIP block and STAN layer recomputed in backward (64 frames x 8 videos =
# 512 L/14 frames per GPU), bf16 autocast, and the local loss. Per-GPU batch 8 on 16 GPUs
# gives 128; on W GPUs set train_dataloader.batch_size=128 // W, or launch with
# --auto-scale-lr to rescale the lr by global batch / 128. To start from the post-pretrained
# L/14 checkpoint: --cfg-options load_from=work_dirs/webvid_pretrain_l14/epoch_3.pth
_base_ = ['./didemo.py']

model = dict(clip=dict(arch='ViT-L-14'), backbone=dict(grad_checkpointing=True), local_loss=True)
optim_wrapper = dict(dtype='bf16')
