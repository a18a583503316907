# Mug-STAN-L/14 post-pretraining with FSDP (VideoTextRetriever, CLIPSTAN K=4, Mug head, local loss), 12 frames at 224, 64 tokens, global batch 1024 (32 GPUs x 32), WebVid; paper [M] §IV-B recipe (zero-shot results of Mug-STAN-L/14: Table I).
# ./webvid_pretrain_l14.py under mmengine's FlexibleRunner + FSDPStrategy: parameters,
# gradients and AdamW states are sharded over the ranks (one FSDP unit per CLIP block and
# STAN layer), which frees ~6.8 GB of fp32 weights + AdamW states per GPU for activations:
# for 32-64 frames or a larger per-GPU batch (docs/training_at_scale.md). Launch as any
# config: tools/dist_train.sh configs/mugstan/webvid_pretrain_l14_fsdp.py 8
_base_ = ['./webvid_pretrain_l14.py', '../_base_/strategies/fsdp.py']
