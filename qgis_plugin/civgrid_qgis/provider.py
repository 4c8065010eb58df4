"""The civgrid Processing provider: partition, repartition, check and report."""
from qgis.core import QgsProcessingProvider

from .algorithms import CheckAlgorithm, PartitionAlgorithm, RepartitionAlgorithm, ReportAlgorithm


class CivgridProvider(QgsProcessingProvider):
    def id(self):
        return "civgrid"

    def name(self):
        return "civgrid"

    def longName(self):  # noqa: N802
        return "civgrid: balanced governance micro-grids"

    def loadAlgorithms(self):  # noqa: N802
        for algorithm in (PartitionAlgorithm(), RepartitionAlgorithm(), CheckAlgorithm(), ReportAlgorithm()):
            self.addAlgorithm(algorithm)
