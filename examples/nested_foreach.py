"""Sales roll-up with a nested foreach: for each region, for each product, total the sales.

start -> region (foreach) -> product (foreach) -> product_total -> region_total (join)
      -> overall (join) -> end
"""

from flowc import FlowSpec, step

SALES = {
    "emea": {"widgets": [3, 5, 2], "gadgets": [7]},
    "amer": {"widgets": [1, 1], "gadgets": [4, 4, 4], "gizmos": [9]},
    "apac": {"gizmos": [2, 6]},
}


class NestedForeachFlow(FlowSpec):
    """Two levels of fan-out, each closed by its own join, innermost first."""

    @step
    def start(self):
        self.regions = sorted(SALES)
        self.next(self.region, foreach="regions")

    @step
    def region(self):
        self.region_name = self.input
        self.products = sorted(SALES[self.region_name])
        self.next(self.product, foreach="products")

    @step
    def product(self):
        self.product_name = self.input
        self.units = sum(SALES[self.region_name][self.product_name])
        self.next(self.region_total)

    @step
    def region_total(self, inputs):
        """Join of the inner foreach: one region's products."""
        self.region_name = inputs[0].region_name
        self.by_product = {inp.product_name: inp.units for inp in inputs}
        self.units = sum(self.by_product.values())
        self.next(self.overall)

    @step
    def overall(self, inputs):
        """Join of the outer foreach: every region."""
        self.by_region = {inp.region_name: inp.units for inp in inputs}
        self.total = sum(self.by_region.values())
        self.next(self.end)

    @step
    def end(self):
        print(f"{self.total} units: {self.by_region}")


if __name__ == "__main__":
    NestedForeachFlow()
