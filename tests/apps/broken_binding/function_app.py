import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="message", queue_name="in", connection="AzureWebJobsStorage")
def mismatched(msg: func.QueueMessage) -> None:
    pass
