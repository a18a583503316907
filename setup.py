"""Packaging for mmstan: STAN / Mug-STAN as an mmaction2 plugin."""
import os.path as osp

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def read_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmstan', 'version.py')) as f:
        exec(f.read(), scope)
    return scope['__version__']


def read_requirements(name: str) -> list:
    """Plain requirement lines of requirements/<name> (comments and -r lines dropped)."""
    with open(osp.join(HERE, 'requirements', name)) as f:
        lines = (line.split('#')[0].strip() for line in f)
        return [line for line in lines if line and not line.startswith('-')]


setup(
    name='mmstan',
    version=read_version(),
    description='STAN and Mug-STAN (CLIP-to-video transfer) for OpenMMLab mmaction2',
    long_description=open(osp.join(HERE, 'README.md')).read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    packages=find_packages(exclude=('configs', 'tools', 'tests')),
    python_requires='>=3.10',  # torch 2.14 requires it
    install_requires=read_requirements('runtime.txt'),
    extras_require={
        'mim': read_requirements('mminstall.txt'),
        'tests': read_requirements('tests.txt'),
        'chat': read_requirements('chat.txt'),
    },
    zip_safe=False,
)
