"""model-index.yml, configs/*/metafile.yml and the model-zoo table of docs/model_zoo.md agree."""
import os.path as osp
import re

import pytest
import yaml

from conftest import ROOT, load_script, run_tool
from mmstan.analysis import model_zoo

#: mmaction2 metafile keys every model entry has.
REQUIRED = ('Name', 'Config', 'In Collection', 'Metadata')
METADATA = ('Architecture', 'Frames', 'FLOPs', 'Parameters', 'Training Data', 'Pretrained')


@pytest.fixture(scope='module')
def models():
    return model_zoo.load_models()


def test_index_imports_every_metafile():
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        imports = yaml.safe_load(f)['Import']
    assert imports, 'model-index.yml imports no metafile'
    for path in imports:
        assert osp.isfile(osp.join(ROOT, path)), path
        with open(osp.join(ROOT, path)) as f:
            data = yaml.safe_load(f)
        collections = {c['Name'] for c in data['Collections']}
        for model in data['Models']:
            assert model['In Collection'] in collections, model['Name']


def test_entries_are_complete_and_point_at_configs(models):
    names = [m['Name'] for m in models]
    assert len(names) == len(set(names)), 'model names must be unique'
    for model in models:
        for key in REQUIRED:
            assert key in model, f'{model.get("Name")}: no {key}'
        for key in METADATA:
            assert key in model['Metadata'], f'{model["Name"]}: no Metadata.{key}'
        assert osp.isfile(osp.join(ROOT, model['Config'])), model['Config']
        assert re.fullmatch(r'\d+(\.\d)?G', str(model['Metadata']['FLOPs'])), model['Name']
        assert re.fullmatch(r'\d+(\.\d)?M', str(model['Metadata']['Parameters'])), model['Name']


def test_frames_and_views_are_the_configs_test_settings(models):
    """Frames: the test sampler's ``clip_len``; views: its ``num_clips`` x the test crops."""
    from mmengine.config import Config

    for model in models:
        cfg = Config.fromfile(osp.join(ROOT, model['Config']))
        pipeline = cfg.test_dataloader.dataset.pipeline
        sampler = next(step for step in pipeline if 'clip_len' in step)
        assert model['Metadata']['Frames'] == sampler['clip_len'], model['Config']
        types = [step['type'] for step in pipeline]
        crops = 3 if 'ThreeCrop' in types else 10 if 'TenCrop' in types else 1
        clips = sampler.get('num_clips', 1)
        views = f'{clips}x{crops}' if clips * crops > 1 else '1'
        assert str(model['Metadata']['Views']) == views, model['Config']


def _numbers(text):
    return [float(x) for x in re.findall(r'\d+(?:\.\d+)?', text)]


def test_results_are_paper_reported_and_match_the_config_header(models):
    """Every result is marked paper-reported with its table, and its numbers are the ones
    the config's first comment line quotes from the same table."""
    for model in models:
        results = model.get('Results') or []
        with open(osp.join(ROOT, model['Config'])) as f:
            header = f.readline()
        for result in results:
            source = result['Source']
            assert source.startswith('paper-reported, ['), (model['Name'], source)
            table = source.split(', ', 1)[1]
            assert table in header, (model['Config'], table, header)
            quoted = _numbers(header.split(table, 1)[1].split(';')[0])
            values = [float(v) for v in result['Metrics'].values()]
            assert values == quoted[:len(values)], (model['Config'], values, quoted)


def test_weights_only_where_published(models):
    """No invented URLs: a Weights entry must be an OpenMMLab-style hashed file name, so a
    download is verified (mmstan.utils.download)."""
    from mmstan.utils.download import hash_from_filename

    for model in models:
        if 'Weights' in model:
            assert model['Weights'].startswith('https://'), model['Name']
            assert hash_from_filename(model['Weights']), model['Name']


def test_zoo_table_is_generated_from_the_metafiles(models):
    table = model_zoo.render_table(models)
    assert model_zoo.ZOO_DOC == osp.join(ROOT, 'docs', 'model_zoo.md')
    assert model_zoo.doc_table() == table, 'run: python tools/model_zoo.py --write'
    for model in models:  # every entry shows
        assert f'`{model["Config"]}`' in table


def test_check_fails_when_the_doc_and_metafiles_disagree(tmp_path, monkeypatch, models):
    doc = tmp_path / 'model_zoo.md'
    with open(model_zoo.ZOO_DOC) as f:
        text = f.read()
    first = models[0]['Metadata']['FLOPs']
    doc.write_text(text.replace(f'| {str(first).rstrip("G")} |', '| 0.0 |', 1))
    monkeypatch.setattr(model_zoo, 'ZOO_DOC', str(doc))
    tool = load_script('tools/model_zoo.py')   # python tools/model_zoo.py --check
    assert tool.main(['--check']) == 1
    model_zoo.write_doc(model_zoo.render_table(models), str(doc))
    assert tool.main(['--check']) == 0


def test_readme_summarises_the_zoo_and_links_the_table():
    """The front page has a Model zoo section that links docs/model_zoo.md."""
    with open(osp.join(ROOT, 'README.md')) as f:
        text = f.read()
    headings = re.findall(r'^## (.+)$', text, flags=re.M)
    assert 'Model zoo' in headings
    section = text.split('## Model zoo', 1)[1].split('\n## ', 1)[0]
    assert '(docs/model_zoo.md)' in section


@pytest.mark.slow
def test_flops_and_params_are_get_flops_output(models):
    """The metafile's numbers for the cheapest model are what tools/analysis/get_flops.py
    prints for its config."""
    from mmengine.config import Config

    def linear_head(m):  # get_flops.py needs no label map for these
        cfg = Config.fromfile(osp.join(ROOT, m['Config']))
        return (cfg.model.get('cls_head') or {}).get('type') == 'VideoLinearHead'

    model = min(filter(linear_head, models), key=lambda m: float(str(m['Metadata']['FLOPs']).rstrip('G')))
    proc = run_tool(['tools/analysis/get_flops.py', model['Config']])
    assert proc.returncode == 0, proc.stderr[-2000:]
    gflops = re.search(r'GFLOPs per view: ([\d.]+)', proc.stdout).group(1)
    params = re.search(r'parameters: ([\d.]+) M', proc.stdout).group(1)
    assert f'{gflops}G' == model['Metadata']['FLOPs']
    assert f'{params}M' == model['Metadata']['Parameters']
