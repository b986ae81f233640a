using Kmc.Cli;

Interruption.Register();
return Entry.Run(args);
