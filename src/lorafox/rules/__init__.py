"""Topic rules: AWS IoT SQL on every message crossing the bus, and their actions."""
