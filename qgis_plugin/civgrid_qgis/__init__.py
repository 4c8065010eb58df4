"""civgrid's QGIS plugin: a Processing provider whose algorithms run the civgrid command."""


def classFactory(iface):  # noqa: N802 (QGIS's name)
    from .plugin import CivgridPlugin
    return CivgridPlugin(iface)
