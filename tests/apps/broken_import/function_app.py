import azure.functions as func

app = func.FunctionApp()


@app.queue_trigger(arg_name="msg", queue_name="in", connection="AzureWebJobsStorage")
def fine(msg: func.QueueMessage) -> None:
    pass


@app.route(route="x", auth_level="sideways")
def broken(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("never")
