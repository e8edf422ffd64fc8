import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="plain-in", connection="Store")
@app.queue_output(arg_name="out", queue_name="plain-out", connection="Store")
def plain(msg: str, out: func.Out[str]) -> None:
    out.set(f"got {msg}")
