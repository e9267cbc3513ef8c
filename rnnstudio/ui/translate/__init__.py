"""The translation panel (French to English): rnnstudio.ui.translate.panel."""
