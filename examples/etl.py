"""A daily ETL: extract two sources, transform them in parallel branches, merge and load.

start -> extract -> (clean_orders, clean_customers) -> merge -> end
"""

from flowc import FlowSpec, Parameter, catch, retry, schedule, step

ORDERS = [
    {"id": 1, "customer": "c1", "amount": "19.99", "region": "eu"},
    {"id": 2, "customer": "c2", "amount": "5.00", "region": "us"},
    {"id": 3, "customer": "c1", "amount": "n/a", "region": "eu"},
    {"id": 4, "customer": "c3", "amount": "42.50", "region": "us"},
]
CUSTOMERS = [
    {"id": "c1", "name": " Ada Lovelace "},
    {"id": "c2", "name": "grace hopper"},
    {"id": "c3", "name": "ALAN TURING"},
]


@schedule(daily=True)
class EtlFlow(FlowSpec):
    """Orders and customers in, one revenue-per-customer table out."""

    region = Parameter("region", default="", help="Only load orders of this region (empty: all)")
    min_amount = Parameter("min_amount", default=0.0, help="Drop orders below this amount")

    @step
    def start(self):
        self.next(self.extract)

    @retry(times=3, minutes_between_retries=0)
    @step
    def extract(self):
        """Pretend to download both sources."""
        self.raw_orders = [dict(o) for o in ORDERS if not self.region or o["region"] == self.region]
        self.raw_customers = [dict(c) for c in CUSTOMERS]
        self.next(self.clean_orders, self.clean_customers)

    @catch(var="orders_error")
    @step
    def clean_orders(self):
        """Parse amounts; rows that do not parse are counted, not fatal."""
        self.orders, self.rejected = [], 0
        for row in self.raw_orders:
            try:
                amount = float(row["amount"])
            except ValueError:
                self.rejected += 1
                continue
            if amount >= self.min_amount:
                self.orders.append({"customer": row["customer"], "amount": amount})
        self.next(self.merge)

    @step
    def clean_customers(self):
        """Normalise names."""
        self.names = {c["id"]: " ".join(c["name"].split()).title() for c in self.raw_customers}
        self.next(self.merge)

    @step
    def merge(self, inputs):
        """Revenue per customer name."""
        orders = inputs.clean_orders.orders
        names = inputs.clean_customers.names
        revenue = {}
        for order in orders:
            name = names.get(order["customer"], order["customer"])
            revenue[name] = round(revenue.get(name, 0.0) + order["amount"], 2)
        self.revenue = dict(sorted(revenue.items()))
        self.rejected = inputs.clean_orders.rejected
        self.next(self.end)

    @step
    def end(self):
        """Load: here, print the table."""
        for name, total in self.revenue.items():
            print(f"{name:20} {total:8.2f}")
        print(f"rejected rows: {self.rejected}")


if __name__ == "__main__":
    EtlFlow()
