# STAN-self-B/16 AVA detector (FastRCNN, CLIPSTAN K=4 feature map, RoIAlign), 8 frames x interval 37 at 256 px, global batch 128, AVA v2.2, from a K400-trained STAN; paper [M] Table IV: bare CLIP 25.9 mAP, STAN +4.4 (~30.3, derived from the prose).
_base_ = ['./ava.py']

# [M] §IV-B: "For action detection, we further pretrain Mug-STAN on K400 following previous
# work". So train configs/stan/k400.py first (`tools/dist_train.sh configs/stan/k400.py 8`,
# from the checkout): its last checkpoint, epoch 30 in its default work dir, is load_from
# here (or pass another, e.g. its best_acc_top1_epoch_*.pth, with
# --cfg-options load_from=...). Its backbone.* weights fill the detector's backbone
# (cls_head.* is ignored; the RoI head starts fresh), and its 224 px position grids (CLIP's
# and the STAN branch's) are resampled to the 256 px crop as they load.
load_from = 'work_dirs/stan/k400/epoch_30.pth'
# the K400 weights replace CLIP's anyway: skip the OpenAI download
model = dict(backbone=dict(pretrained=None))
