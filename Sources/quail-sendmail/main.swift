import QuailCore

// The sendmail command line (-t -i -oi -f -F -r), for programs that only know /usr/sbin/sendmail.
InjectCommand.main(program: "quail-sendmail", usage: SendmailOptions.usage, parse: SendmailOptions.parse)
