import QuailCore

// qmail-inject's interface: the message on stdin, recipients as arguments or in the header.
InjectCommand.main(program: "quail-inject", usage: InjectOptions.injectUsage, parse: InjectOptions.parseInject)
