"""The order of the examples gallery: the quick start, then the networks of introductory tutorials, then the rest.

sphinx-gallery sorts a gallery's files with a key class given by its
importable name (``within_subsection_order``); :class:`GalleryOrder` puts the
files of :data:`FIRST` first, in that order, and the others after them by
file name.
"""

#: the examples that open the gallery, in order: the quick start, then the
#: networks of introductory neural-network tutorials
FIRST = ["quickstart.py", "plot_binary_classifier.py", "plot_two_hidden_layers.py", "plot_regression_network.py",
         "plot_mnist_style.py", "plot_lenet.py"]


class GalleryOrder:
    """Sort key of the examples' file names: those of :data:`FIRST` in its order, then the others by name.

    Parameters
    ----------
    src_dir : str
        The gallery's source folder (sphinx-gallery passes it).

    Examples
    --------
    >>> sorted(["plot_lenet.py", "plot_augmentation.py", "quickstart.py"], key=GalleryOrder("examples"))
    ['quickstart.py', 'plot_lenet.py', 'plot_augmentation.py']
    """

    def __init__(self, src_dir):
        self.src_dir = src_dir

    def __call__(self, filename):
        return (FIRST.index(filename), "") if filename in FIRST else (len(FIRST), filename)

    def __repr__(self):
        return f"<{type(self).__name__}>"
