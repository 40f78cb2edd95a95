from django.urls import path

from ketaflow.ledger import views

urlpatterns = [
    path("", views.ledger_home, name="ledger_home"),
    path("receive/", views.receive, name="ledger_receive"),
    path("products/new/", views.product_new, name="ledger_product_new"),
    path(
        "receipts/<int:receipt_id>/reverse/", views.receipt_reverse, name="ledger_receipt_reverse"
    ),
    path("vials/<int:vial_id>/", views.vial_detail, name="ledger_vial"),
    path("vials/<int:vial_id>/draw/", views.draw, name="ledger_draw"),
    path("vials/<int:vial_id>/waste/", views.waste, name="ledger_waste"),
    path("vials/<int:vial_id>/destroy/", views.destroy, name="ledger_destroy"),
    path("vials/<int:vial_id>/loss/", views.loss, name="ledger_loss"),
    path("entries/<int:entry_id>/", views.entry_detail, name="ledger_entry"),
    path("entries/<int:entry_id>/administer/", views.administer, name="ledger_administer"),
    path("entries/<int:entry_id>/correct/", views.correct, name="ledger_correct"),
    path("counts/new/", views.count_new, name="ledger_count_new"),
    path("counts/<int:count_id>/", views.count_detail, name="ledger_count"),
    path("cases/<int:case_id>/", views.case_detail, name="ledger_case"),
    path("inventories/new/", views.inventory_new, name="ledger_inventory_new"),
    path("inventories/<int:inventory_id>/", views.inventory_detail, name="ledger_inventory"),
    path("reports/", views.reports_index, name="ledger_reports"),
    path("reports/<slug:name>/", views.report, name="ledger_report"),
    path("reconcile/", views.reconcile, name="ledger_reconcile"),
    path("verify/", views.verify, name="ledger_verify"),
]
