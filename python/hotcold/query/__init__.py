"""Reading history: the cold query engine over the lake, the router that sends each query to
the tier holding it, the symbol-clustered history index, and query outputs."""
