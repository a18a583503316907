# STAN-self-B/16 AVA detector (FastRCNN, CLIPSTAN K=4 feature map, RoIAlign), 8 frames x interval 37 at 256 px, global batch 128, AVA v2.2, from a K400-trained STAN; paper [M] Table IV: bare CLIP 25.9 mAP, STAN +4.4 (~30.3, derived from the prose).
_base_ = ['./ava.py']

# A checkpoint of configs/stan/k400.py (224 px), its position grids resampled to 256 px:
#   python tools/model_converters/stan_resample_grids.py work_dirs/k400/best.pth \
#       configs/stan/ava_k400init.py checkpoints/stan_k400_b16_ava256.pth
# ([M] §IV-B: "we further pretrain Mug-STAN on K400 following previous work").
load_from = 'checkpoints/stan_k400_b16_ava256.pth'
# the K400 weights replace CLIP's anyway: skip the OpenAI download
model = dict(backbone=dict(pretrained=None))
